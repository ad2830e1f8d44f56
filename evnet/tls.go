package evnet

// The TLS layer: a crypto/tls Conn between the socket and the handler.
//
// Each TLS connection has a tls.Conn whose net.Conn is the connection's
// tlsConn, an in-memory transport that the loop feeds. Once the handshake
// is done everything runs on the loop: the ciphertext read into the
// loop's buffer is handed to tls.Conn.Read, which decrypts it into the
// loop's plaintext buffer, and when the transport has nothing more it
// returns errWouldBlock, a net.Error whose Temporary() is true, which
// crypto/tls does not keep (TestTLSWouldBlockNotSticky pins this); the
// records tls.Conn.Write makes are gathered in the loop's records buffer
// and written to the socket with the connection's ordinary write path.
// The handshake cannot be resumed after a would-block, so it runs on a
// goroutine of its own, on the blocking side of the same transport
// (tls_handshake.go), and ends there. A TLS 1.3 server connection then
// leaves the tls.Conn for a record layer of evnet's own (tls13.go).

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/internal/sock"
)

// Defaults of TLSConfig.
const (
	// DefaultHandshakeTimeout is the default TLSConfig.HandshakeTimeout.
	DefaultHandshakeTimeout = 10 * time.Second
	// DefaultMaxHandshakes is the default TLSConfig.MaxHandshakes.
	DefaultMaxHandshakes = 1024
)

// tlsWriteChunk is the most plaintext given to one tls.Conn.Write: the
// records it makes go to the socket in one write.
const tlsWriteChunk = 64 << 10

// TLS record layout (RFC 8446, section 5.1), and the longest first record
// crypto/tls accepts (its maxCiphertext).
const (
	recordHeaderLen     = 5
	recordTypeHandshake = 22
	maxFirstRecord      = 16384 + 2048
)

// The errors of TLS connections.
var (
	// ErrHandshake is wrapped by the close reason of a connection whose TLS
	// handshake failed, together with crypto/tls's error (or ErrTimeout
	// when TLSConfig.HandshakeTimeout passed). Its OnOpen never ran.
	ErrHandshake = errors.New("evnet: tls handshake failed")
	// ErrTruncated is the close reason of a TLS connection whose peer
	// closed its side (a TCP FIN) without a close_notify alert first: what
	// it sent may have been cut short by someone on the path. The handler
	// learns of the end as of any other (OnEOF, or a close); protocols
	// that delimit their messages themselves, as HTTP does, may treat it
	// as ErrEOF.
	ErrTruncated = errors.New("evnet: tls connection truncated: peer closed without close_notify")
	// errTLS is wrapped, with crypto/tls's error, by the close reason of a
	// connection whose records failed (ClassifyClose finds it).
	errTLS = errors.New("evnet: tls")
	// ErrHandshakeNotDone is returned by SendFile on a TLS connection
	// whose handshake is not done yet (a dialled one before OnOpen).
	ErrHandshakeNotDone = errors.New("evnet: tls handshake not done")
)

var errHandshakeTimeout = fmt.Errorf("%w: %w", ErrHandshake, ErrTimeout)

// TLSConfig makes the connections of a listener (ListenConfig.TLS) or a
// dialled connection (Dialer.TLS) TLS connections. Its zero value, with a
// Config, means the defaults. It is copied when the listener or
// connection is made, and Config is cloned then: later changes to it are
// not seen (GetCertificate and GetConfigForClient are the way to change
// certificates and settings on the fly). The loops of one Group.Listen
// share one clone; listeners made by separate calls have their own, with
// their own automatic session ticket keys, as net/http's servers do:
// keys set with tls.Config.SetSessionTicketKeys before are shared, so
// that a session resumes on any of them.
type TLSConfig struct {
	// Config is the crypto/tls configuration, used as it is (but for
	// StdRecords' note below): certificates
	// (or GetCertificate for SNI), ALPN (NextProtos), client certificates
	// (ClientAuth, ClientCAs), session tickets, OCSP staples, cipher
	// suites. When its MinVersion is 0, TLS 1.2 is the minimum. A client
	// without ServerName uses the host of the address dialled. Nil means
	// an empty Config: a client verifying against the system's roots (a
	// server needs certificates).
	Config *tls.Config
	// HandshakeTimeout closes a connection whose handshake is not done
	// this long after it was accepted (or connected), with a reason
	// wrapping ErrHandshake and ErrTimeout. Zero means
	// DefaultHandshakeTimeout, a negative value none.
	HandshakeTimeout time.Duration
	// MaxHandshakes bounds the handshakes in flight on a listener (on
	// each loop's listener, for a Group), each on a goroutine of its own
	// from its client's first record until it ends. A connection beyond
	// the bound waits, reading nothing, for a handshake to end; its
	// HandshakeTimeout runs meanwhile. Zero means DefaultMaxHandshakes, a
	// negative value no bound. Dialled connections are not bounded.
	MaxHandshakes int
	// Plaintext, if not nil, receives the connections whose client's first
	// bytes are not a TLS record (crypto/tls fails with a
	// tls.RecordHeaderError that carries a Conn), as when an HTTP request
	// is sent to an HTTPS port: the connection leaves TLS and is handed to
	// this handler as a plain one, whose OnOpen runs, then OnData with
	// the bytes received so far. An HTTP server answers 400 ("plain HTTP
	// request was sent to HTTPS port") and closes. Without it, such a
	// connection closes as any failed handshake. Servers only.
	Plaintext *Handler
	// StdRecords keeps crypto/tls's record layer (a tls.Conn per
	// connection) after the handshake of TLS 1.3 server connections,
	// instead of evnet's own, which holds less memory per connection
	// (about 2.4 KB of heap against 4.2 to 5.9 KB) and allocates nothing
	// per record read (see the package documentation, "TLS"). TLS 1.2
	// connections and clients always use crypto/tls's. Without it, a
	// server's clone of Config has a KeyLogWriter of evnet's, which
	// passes each line on to the config's own; a config that the
	// program's GetConfigForClient returns (and every config with
	// Encrypted Client Hello keys) costs a clone of it per handshake,
	// whose KeyLogWriter is evnet's.
	StdRecords bool

	ready bool // Config is already the clone to use (once)
}

// config returns the tls.Config the connections use: a clone of Config,
// with TLS 1.2 the minimum when MinVersion is 0.
// A server's is made to tell its TLS 1.3 handshakes their secrets
// (keyLogConfig), when they are to use evnet's record layer.
func (tc *TLSConfig) config(server bool) *tls.Config {
	if tc.ready {
		return tc.Config
	}
	cfg := &tls.Config{}
	if tc.Config != nil {
		cfg = tc.Config.Clone()
	}
	if cfg.MinVersion == 0 {
		cfg.MinVersion = tls.VersionTLS12
	}
	if server && tc.ownRecords() {
		keyLogConfig(cfg)
	}
	return cfg
}

// ownRecords reports whether TLS 1.3 server connections use evnet's
// record layer after their handshake (tls13.go).
func (tc *TLSConfig) ownRecords() bool { return !tc.StdRecords && ownRecordsDefault }

// ownRecordsDefault: the record layer of evnet's own is on unless
// TLSConfig.StdRecords.
var ownRecordsDefault = true

// once returns a copy of tc whose Config is the clone that every listener
// made from it shares: one clone for a Group's loops, so that they have
// the same session ticket keys and a session resumes on any loop.
func (tc *TLSConfig) once() *TLSConfig {
	n := *tc
	n.Config = tc.config(true)
	n.ready = true
	return &n
}

// tlsShared is the TLS part of what the connections of a listener (or a
// dialled connection) share.
type tlsShared struct {
	cfg       *tls.Config
	timeout   time.Duration // <= 0: none
	max       int           // <= 0: no bound
	plaintext *Handler
	client    bool
	own13     bool // evnet's TLS 1.3 record layer after the handshake (servers)
	// keys routes the secrets to the handshakes (servers with own13 whose
	// config allows TLS 1.3).
	keys *keyRouter

	// The handshakes' bookkeeping. Loop goroutine only.
	inFlight int     // handshakes running
	waiting  []*Conn // connections waiting for one to end, in order
	done     uint64  // handshakes that succeeded
	failed   uint64  // connections closed before their handshake succeeded
}

func (tc *TLSConfig) shared(server bool) *tlsShared {
	ts := &tlsShared{cfg: tc.config(server), timeout: tc.HandshakeTimeout, max: tc.MaxHandshakes}
	if ts.timeout == 0 {
		ts.timeout = DefaultHandshakeTimeout
	}
	if ts.max == 0 {
		ts.max = DefaultMaxHandshakes
	}
	return ts
}

// server returns the settings of a listener's connections.
func (tc *TLSConfig) server() *tlsShared {
	ts := tc.shared(true)
	ts.own13 = tc.ownRecords()
	ts.keys, _ = ts.cfg.KeyLogWriter.(*keyRouter)
	if tc.Plaintext != nil {
		h := *tc.Plaintext
		ts.plaintext = &h
	}
	return ts
}

// client returns the settings of a connection dialled to address.
func (tc *TLSConfig) client(network, address string) *tlsShared {
	ts := tc.shared(false)
	ts.client = true
	if ts.cfg.ServerName == "" && network != "unix" {
		if host, _, err := net.SplitHostPort(address); err == nil {
			if tc.ready {
				ts.cfg = ts.cfg.Clone()
			}
			ts.cfg.ServerName = host
		}
	}
	return ts
}

// forLoop returns ts for the connections of another loop: the same
// settings, bookkeeping of their own. Nil for nil.
func (ts *tlsShared) forLoop() *tlsShared {
	if ts == nil {
		return nil
	}
	n := *ts
	n.inFlight, n.waiting = 0, nil
	return &n
}

// tlsConn is the TLS layer of a connection, and the net.Conn under its
// tls.Conn: Read gives crypto/tls the ciphertext the loop has read, Write
// takes the records it makes. During the handshake both go through hs,
// on the handshake's goroutine (handshake.go).
type tlsConn struct {
	c  *Conn
	tc *tls.Conn // nil once r13 replaces it
	// r13 is the record layer of evnet's own (tls13.go), once the
	// handshake of a TLS 1.3 server connection is done; nil before, and
	// for the others.
	r13 *rec13
	// pooled is the buffer from recordBufs that in is a part of, if any.
	pooled *[]byte
	// hs is the handshake in progress, nil after it. Set and cleared on the
	// loop, only while the handshake's goroutine does not run.
	hs *handshake
	// in is the ciphertext not handed to crypto/tls yet: a part of the
	// loop's read buffer during the read that brought it, or (owned) a
	// copy of the connection's own when reading stopped before the end.
	in  []byte
	rec recordCut
	// owned: in is the connection's own copy.
	owned bool
	// more: crypto/tls or in may hold records not given to the handler
	// yet, because reading paused (or the handler changed) meanwhile.
	more bool
	// dead: crypto/tls failed; no close_notify follows.
	dead bool
	// notified: close_notify sent.
	notified bool
}

// recordCut follows the record boundaries of the ciphertext handed to
// crypto/tls, so that one Read never gives it bytes past the end of a
// record: what tls.Conn reads ahead it keeps in a buffer that stays as
// large as the largest read, for the life of the connection.
type recordCut struct {
	hdr  int32 // header bytes of the current record seen (0 to 5)
	left int32 // its payload bytes still to come, once the header is whole
}

// take copies from src to dst up to the end of the current record and
// returns the bytes copied.
func (r *recordCut) take(dst, src []byte) int {
	n := 0
	for n < len(dst) && len(src) > 0 {
		if r.hdr < recordHeaderLen {
			b := src[0]
			switch r.hdr {
			case 3:
				r.left = int32(b) << 8
			case 4:
				r.left |= int32(b)
			}
			dst[n] = b
			n++
			src = src[1:]
			r.hdr++
			if r.hdr == recordHeaderLen && r.left == 0 {
				r.hdr = 0
				return n
			}
			continue
		}
		k := copy(dst[n:], src[:min(int(r.left), len(src))])
		n += k
		src = src[k:]
		r.left -= int32(k)
		if r.left == 0 {
			r.hdr = 0
			return n
		}
	}
	return n
}

// errWouldBlock is what the transport's Read returns when the loop has
// no more ciphertext for crypto/tls: a net.Error whose Temporary() is
// true, which tls.Conn.Read returns without keeping it, so that the next
// Read goes on where this one stopped.
var errWouldBlock net.Error = wouldBlock{}

type wouldBlock struct{}

func (wouldBlock) Error() string   { return "evnet: tls: no more input (would block)" }
func (wouldBlock) Timeout() bool   { return true }
func (wouldBlock) Temporary() bool { return true }

// Read gives crypto/tls the ciphertext read from the socket, up to the
// end of a record, or errWouldBlock when there is none.
func (t *tlsConn) Read(b []byte) (int, error) {
	if hs := t.hs; hs != nil {
		return hs.read(t, b)
	}
	if len(t.in) == 0 {
		return 0, errWouldBlock
	}
	n := t.rec.take(b, t.in)
	t.in = t.in[n:]
	if len(t.in) == 0 {
		t.in, t.owned = nil, false
	}
	return n, nil
}

// Write takes a record of crypto/tls's: into the loop's records buffer,
// sent by sendRecords when the call into crypto/tls returns.
func (t *tlsConn) Write(p []byte) (int, error) {
	if hs := t.hs; hs != nil {
		return hs.write(t, p)
	}
	ls := t.c.sh.ls
	ls.records = append(ls.records, p...)
	return len(p), nil
}

// Close is for crypto/tls's net.Conn, which never calls it (the
// connection closes its descriptor itself); a GetCertificate that closes
// its ClientHelloInfo.Conn ends the handshake.
func (t *tlsConn) Close() error {
	if hs := t.hs; hs != nil {
		hs.close()
	}
	return nil
}

// LocalAddr returns the connection's local address.
func (t *tlsConn) LocalAddr() net.Addr {
	if hs := t.hs; hs != nil {
		local, _ := hs.addrs()
		return local
	}
	local, _ := t.c.netAddrs()
	return local
}

// RemoteAddr returns the peer's address.
func (t *tlsConn) RemoteAddr() net.Addr {
	if hs := t.hs; hs != nil {
		_, remote := hs.addrs()
		return remote
	}
	_, remote := t.c.netAddrs()
	return remote
}

// SetDeadline and the others do nothing: the loop's timing wheel bounds
// the handshake, and nothing after it blocks.
func (t *tlsConn) SetDeadline(time.Time) error      { return nil }
func (t *tlsConn) SetReadDeadline(time.Time) error  { return nil }
func (t *tlsConn) SetWriteDeadline(time.Time) error { return nil }

// netAddrs returns the connection's addresses as net.Addrs (an empty
// net.UnixAddr where it has no IP address).
func (c *Conn) netAddrs() (local, remote net.Addr) {
	if c.closed() {
		return fdAddrs(-1)
	}
	return fdAddrs(c.w.Fd())
}

// fdAddrs returns the addresses of the socket fd as net.Addrs (an empty
// net.UnixAddr where it has no IP address, or fd is -1).
func fdAddrs(fd int) (local, remote net.Addr) {
	local, remote = &net.UnixAddr{Net: "unix"}, &net.UnixAddr{Net: "unix"}
	if fd < 0 {
		return local, remote
	}
	if ap, _ := sock.LocalAddr(fd); ap.IsValid() {
		local = net.TCPAddrFromAddrPort(ap)
	}
	if ap, _ := sock.RemoteAddr(fd); ap.IsValid() {
		remote = net.TCPAddrFromAddrPort(ap)
	}
	return local, remote
}

// finish lets go of the TLS state when the connection closes; a
// handshake's goroutine is told to end (handshakeDone lets go of the rest).
func (t *tlsConn) finish() {
	if t.c.flags&fHandshake != 0 {
		t.c.sh.tls.failed++
		if k := t.c.sh.st; k != nil {
			k.tlsFailed.Add(1)
		}
	}
	t.in, t.owned = nil, false
	t.release()
	if t.hs != nil {
		t.hs.early = nil
		t.unroute()
	}
	switch hs := t.hs; {
	case hs == nil:
		t.tc, t.r13 = nil, nil
	case hs.started:
		hs.close()
	default:
		t.hs, t.tc = nil, nil
	}
}

// IsTLS reports whether c is a TLS connection (its handshake done or
// not).
func (c *Conn) IsTLS() bool { return c.flags&fTLS != 0 }

// TLSState returns the state of a TLS connection whose handshake is done:
// its version, cipher suite, ALPN protocol (NegotiatedProtocol), server
// name, peer certificates and whether the session was resumed
// (DidResume). ok is false for a plain connection, during the handshake
// and after the connection closed. Handler.OnOpen, which runs after the
// handshake, is the first callback where it is known.
func (c *Conn) TLSState() (state tls.ConnectionState, ok bool) {
	if c.flags&(fTLS|fHandshake|fClosed) != fTLS {
		return tls.ConnectionState{}, false
	}
	if r := c.x.tls.r13; r != nil {
		return *r.state, true
	}
	return c.x.tls.tc.ConnectionState(), true
}

// initTLS makes c, just made, a TLS connection.
func (c *Conn) initTLS() {
	ts := c.sh.tls
	t := &tlsConn{c: c}
	hs := &handshake{loop: c.sh.ls.loop, keep: ts.plaintext != nil}
	hs.cond.L = &hs.mu
	t.hs = hs
	if ts.client {
		t.tc = tls.Client(t, ts.cfg)
	} else {
		t.tc = tls.Server(t, ts.cfg)
	}
	c.extra().tls = t
	c.flags |= fTLS | fHandshake
}

// handshakeDeadline starts the handshake's timeout.
func (c *Conn) handshakeDeadline() {
	if d := c.sh.tls.timeout; d > 0 {
		t := c.timing()
		t.connDL = c.sh.ls.after(d)
		c.sh.ls.schedule(c)
	}
}

// tlsInput takes p, ciphertext just read from the socket (in the loop's
// read buffer).
func (c *Conn) tlsInput(p []byte) {
	if c.flags&fHandshake != 0 {
		c.handshakeInput(p)
		return
	}
	t := c.x.tls
	if t.r13 != nil {
		c.tls13Input(p)
		return
	}
	if len(t.in) == 0 {
		t.in, t.owned = p, false
	} else { // what was left (owned), then p
		t.in = append(t.in, p...)
	}
	c.tlsDecrypt()
}

// tlsDecrypt gives the handler the plaintext of the records in t.in (and
// any crypto/tls holds) until there is none, or reading stops.
func (c *Conn) tlsDecrypt() {
	t := c.x.tls
	if t.r13 != nil {
		c.tls13Decrypt()
		return
	}
	ls := c.sh.ls
	plain := ls.plainBuf()
	// held: crypto/tls may hold plaintext that did not fit (or reading
	// stopped before it was asked). Else, with no ciphertext left, a Read
	// would only say errWouldBlock: it is not made, for it costs an
	// allocation in crypto/tls (see the package doc).
	held := t.more
	for c.flags&(notReading|fRedeliver) == 0 {
		var err error
		n := 0
		for n < len(plain) {
			if len(t.in) == 0 && !held {
				err = errWouldBlock
				break
			}
			var k int
			k, err = t.tc.Read(plain[n:])
			held = k > 0 && k == len(plain)-n
			n += k
			if err != nil {
				break
			}
		}
		if len(ls.records) > 0 { // alerts, a KeyUpdate's answer
			c.sendRecords()
			if c.closed() {
				return
			}
		}
		if n > 0 {
			c.deliver(plain[:n])
			if c.closed() {
				return
			}
		}
		switch {
		case err == nil: // the plaintext buffer is full: again
		case err == errWouldBlock:
			t.more = false
			return
		case err == io.EOF: // close_notify
			t.more = false
			t.in, t.owned = nil, false
			c.eof()
			return
		default:
			t.more = false
			t.dead = true
			t.in, t.owned = nil, false
			c.setReason(fmt.Errorf("%w: %w", errTLS, err))
			c.Close()
			return
		}
	}
	// Reading stopped: keep the records not decrypted yet for later.
	if len(t.in) > 0 && !t.owned {
		t.in = append([]byte(nil), t.in...)
		t.owned = true
	}
	t.more = len(t.in) > 0 || held
}

// tlsEOF handles the end of the socket's input.
func (c *Conn) tlsEOF() {
	if c.flags&fHandshake != 0 {
		c.handshakeEOF()
		return
	}
	// A close_notify would have stopped reading before the FIN.
	c.setReason(ErrTruncated)
	c.eof()
}

// tlsWrite encrypts p and sends (or queues) the records; before the
// handshake is done, p is kept to be encrypted after it.
func (c *Conn) tlsWrite(p []byte) (int, error) {
	t := c.x.tls
	if c.flags&fHandshake != 0 {
		hs := t.hs
		if len(hs.early)+len(p) > c.sh.o.MaxBuffered {
			c.fail(ErrOverflow)
			return 0, ErrOverflow
		}
		hs.early = append(hs.early, p...)
		return len(p), nil
	}
	if c.x.pump != nil {
		return c.pumpWrite(p) // behind a file region
	}
	total := len(p)
	ls := c.sh.ls
	for len(p) > 0 {
		m := min(len(p), tlsWriteChunk)
		var err error
		if r := t.r13; r != nil {
			r.sealData(ls, p[:m])
		} else {
			// tls.Conn.Write lets its argument escape (it reaches an
			// interface method): a copy keeps that from making Write's p
			// escape, and with it every caller's buffer (evhttp's
			// TestAllocs saw one).
			ls.plainOut = append(ls.plainOut[:0], p[:m]...)
			err = t.encrypt(ls.plainOut)
		}
		if err != nil {
			t.dead = true
			c.fail(fmt.Errorf("%w: %w", errTLS, err))
			return total - len(p), c.reason()
		}
		if err := c.sendRecords(); err != nil {
			return total - len(p), err
		}
		p = p[m:]
	}
	return total, nil
}

// sendRecords sends the records crypto/tls has just made.
func (c *Conn) sendRecords() error {
	ls := c.sh.ls
	r := ls.records
	ls.records = nil // whatever runs meanwhile (OnClose) has its own
	var err error
	if len(r) > 0 && !c.closed() {
		_, err = c.send(r)
	}
	if ls.records == nil {
		ls.records = r[:0]
	}
	return err
}

// tlsCloseNotify sends close_notify, once, and reports whether c is
// still open with nothing left to encrypt: during the handshake, or
// behind a file region (SendFile), the alert waits for its turn.
func (c *Conn) tlsCloseNotify() bool {
	if c.flags&fHandshake != 0 {
		return false
	}
	t := c.x.tls
	if t.dead || t.notified {
		return !c.closed()
	}
	t.notified = true
	if pump := c.x.pump; pump != nil { // behind a file region
		pump.items = append(pump.items, tlsItem{notify: true})
		return false
	}
	t.closeNotify()
	c.sendRecords()
	return !c.closed()
}

// plainBuf returns the loop's plaintext buffer.
func (s *loopState) plainBuf() []byte {
	if s.plain == nil {
		s.plain = make([]byte, ReadBufferSize)
	}
	return s.plain
}

// handshakeDone ends c's handshake, on the loop, once its goroutine has
// returned err from tls.Conn.Handshake.
func (c *Conn) handshakeDone(t *tlsConn, err error) {
	ts := c.sh.tls
	ts.inFlight--
	ts.next()
	t.unroute()
	hs := t.hs
	if c.closed() || c.x.tls != t {
		t.hs, t.tc = nil, nil
		return
	}
	t.hs = nil
	c.flags &^= fHandshake | fHold
	if tm := c.tm; tm != nil {
		tm.connDL = -1
		c.sh.ls.schedule(c)
		if tm.idle == 0 && tm.wto == 0 && tm.alarm < 0 && tm.at == -1 {
			c.tm = nil // it was for the handshake only
		}
	}
	if err != nil {
		ts.failed++
		if k := c.sh.st; k != nil {
			k.tlsFailed.Add(1)
		}
		var rhe tls.RecordHeaderError
		if ts.plaintext != nil && errors.As(err, &rhe) && rhe.Conn != nil {
			c.toPlaintext(ts.plaintext, hs.in)
			return
		}
		t.dead = true
		c.setReason(fmt.Errorf("%w: %w", ErrHandshake, err))
		c.Close()
		return
	}
	ts.done++
	if k := c.sh.st; k != nil {
		k.tlsDone.Add(1)
	}
	if ts.own13 {
		t.ownRecords(hs)
	}
	if rest := hs.in[hs.off:]; len(rest) > 0 {
		t.in, t.owned, t.more = append([]byte(nil), rest...), true, true
	}
	if e := hs.early; len(e) > 0 {
		hs.early = nil
		if _, err := c.tlsWrite(e); err != nil {
			return
		}
	}
	c.open()
	if c.closed() {
		return
	}
	if c.flags&(fWriteShut|fClosing) == fWriteShut && !t.notified {
		if c.tlsCloseNotify() && c.q == nil && c.flags&fShutDone == 0 {
			c.shutdown()
		}
		if c.closed() {
			return
		}
	}
	c.interest()
	if t.more {
		c.tlsDecrypt()
	}
}

// toPlaintext hands c, whose client did not speak TLS, to h as a plain
// connection, with in, the bytes it sent, as its first input.
func (c *Conn) toPlaintext(h *Handler, in []byte) {
	c.x.tls = nil
	c.flags &^= fTLS
	c.x.h = h
	c.flags |= fHandler
	if len(in) > 0 {
		if len(in) > c.sh.o.MaxBuffered {
			c.fail(ErrOverflow)
			return
		}
		c.x.in = append([]byte(nil), in...)
	}
	c.open()
	if c.flags&(fClosed|fClosing) != 0 {
		return
	}
	if len(c.x.in) > 0 {
		c.flags |= fRedeliver
		c.sh.ls.loop.Feed(&c.w, eddy.Read)
	}
	c.interest()
}

var errHandshakeEOF = fmt.Errorf("%w: %w", ErrHandshake, io.ErrUnexpectedEOF)

// TLSHandshakes returns the counts of a TLS listener's handshakes so
// far: done, those that succeeded (OnOpen ran), and failed, the
// connections closed before theirs succeeded (crypto/tls's error, a
// timeout, a reset, a client that did not speak TLS). Both are zero for a
// plain listener. For a Group, each loop's listener counts its own.
func (ln *Listener) TLSHandshakes() (done, failed uint64) {
	if ts := ln.sh.tls; ts != nil {
		return ts.done, ts.failed
	}
	return 0, 0
}

// StartTLSServer makes c, an open plain connection, a TLS server
// connection from now on, as after a STARTTLS command, or for a descriptor
// given to Adopt. The connection is handed to h, as SetHandler does, and
// h.OnOpen runs once the handshake is done (h.OnClose, with a reason
// wrapping ErrHandshake, if it fails); cfg's HandshakeTimeout counts from
// now, MaxHandshakes does not apply. Called from OnData, it takes the
// bytes that OnData leaves unconsumed as the first bytes of the
// handshake, so that a client that sent its ClientHello right after its
// STARTTLS command is served; what was written before it is sent before
// the handshake's first bytes. It fails with ErrClosed on a closed or
// closing connection, ErrWriteClosed after CloseWrite, and an error on a
// connection that is TLS already or still connecting (Dialer.TLS is the
// way there).
func (c *Conn) StartTLSServer(cfg *TLSConfig, h Handler) error {
	return c.startTLS(cfg, false, h)
}

// StartTLSClient is StartTLSServer for the client's side: the handshake
// starts at once. Without a ServerName in cfg.Config, the peer's IP
// address is the name verified.
func (c *Conn) StartTLSClient(cfg *TLSConfig, h Handler) error {
	return c.startTLS(cfg, true, h)
}

// startTLS is StartTLSServer and StartTLSClient.
func (c *Conn) startTLS(cfg *TLSConfig, client bool, h Handler) error {
	switch {
	case c.flags&(fClosed|fClosing) != 0:
		return ErrClosed
	case c.flags&fWriteShut != 0:
		return ErrWriteClosed
	case c.flags&fTLS != 0:
		return errors.New("evnet: StartTLS: the connection is TLS already")
	case c.flags&fConnecting != 0:
		return errors.New("evnet: StartTLS: the connection is not connected yet (see Dialer.TLS)")
	}
	var ts *tlsShared
	if client {
		addr := ""
		if ap := c.RemoteAddr(); ap.IsValid() {
			addr = ap.String()
		}
		ts = cfg.client("tcp", addr)
	} else {
		ts = cfg.server()
	}
	sh := *c.sh // the connection's own from now on
	sh.tls = ts
	c.sh = &sh
	c.initTLS()
	c.x.h = &h
	c.flags |= fHandler
	c.handshakeDeadline()
	if in := c.x.in; len(in) > 0 && c.flags&fInCb == 0 {
		c.x.in = nil
		c.handshakeInput(in)
	}
	if client {
		c.runHandshake()
	}
	c.interest()
	return nil
}
