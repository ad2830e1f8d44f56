package evws

// A WebSocket connection on an evnet connection: the frame reader (a state
// machine fed by OnData, which consumes payload as it arrives and holds
// only what a message needs), the writers, the close handshake and the
// keep-alive timer.

import (
	"math/rand/v2"
	"time"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evnet"
)

// Handler holds the callbacks of a WebSocket connection. They run on the
// connection's loop, one at a time, and must not block. Every field may
// be nil; a connection without OnMessage nor OnFragment reads and drops
// the messages.
type Handler struct {
	// OnOpen runs once the handshake is done, before any other callback.
	OnOpen func(c *Conn)
	// OnMessage receives each message whole: op is Text (p is valid
	// UTF-8) or Binary. p is only valid during the call (it may be the
	// loop's read buffer): copy what must be kept.
	OnMessage func(c *Conn, op Opcode, p []byte)
	// OnFragment, if set, replaces OnMessage: each message is delivered
	// in pieces as its bytes arrive, last telling the final piece (which
	// may be empty), so that a large message is never held. A Text
	// message's pieces are validated as they come, but a piece may end in
	// the middle of a character. A compressed message is inflated whole
	// first (within MaxMessageBytes), then delivered in one piece.
	OnFragment func(c *Conn, op Opcode, p []byte, last bool)
	// OnPong receives the payload of each Pong (Pings are answered by the
	// connection itself).
	OnPong func(c *Conn, p []byte)
	// OnDrain runs when the output queue, after Full, has drained to its
	// low watermark: a writer that stopped at Full goes on here.
	OnDrain func(c *Conn)
	// OnClose runs exactly once, last, with the reason: a *CloseError
	// after a Close frame from either side, ErrDeadPeer, ErrCloseTimeout,
	// ErrQueueFull, or evnet's reason for a connection lost without a
	// Close frame (evnet.ErrEOF, evnet.ErrReset...).
	OnClose func(c *Conn, err error)
}

// The states and settings of a Conn (flags).
const (
	fClient     = 1 << iota // the client's side: masks, expects no mask
	fOpen                   // OnOpen has run
	fCloseSent              // a Close frame was written
	fCloseRecv              // a Close frame was received
	fReadDone               // input is dropped from now on
	fPaused                 // the program paused reading
	fDeflate                // permessage-deflate negotiated
	fInFrame                // a data frame's payload is being read
	fCompressed             // the message being read is compressed
	fPingOut                // a keep-alive Ping awaits an answer
	fDone                   // OnClose has run
)

// Conn is a WebSocket connection. Its methods must be called on its
// loop's goroutine, from OnOpen on: before it, writes return ErrNotOpen
// and the other methods must not be called. It holds no buffer while idle: a message's buffer is
// taken from its loop while the message arrives in pieces, and given back
// once delivered.
type Conn struct {
	nc    *evnet.Conn
	ls    *loopState
	cfg   *Config // shared by the connections of an Upgrader or Dial
	h     *Handler
	flags uint32

	// The frame being read, the message it belongs to.
	hdr     frameHeader
	left    uint64 // payload bytes of the frame not read yet
	maskPos uint8
	msgOp   Opcode // 0: no message in progress
	sending Opcode // the message WriteFragment is sending, or 0
	proto   uint8  // the subprotocol: 1 + its index in cfg.Subprotocols, or 0
	utf8    utf8State
	deflate deflateParams
	msg     []byte // the message so far, when it spans frames or reads

	window   []byte // the client's context, with context takeover
	lastRead time.Time

	closeErr error
	paced    *pacedMsg // a large message being sent in fragments
	ctx      any
	dropped  int64
}

// handler is the evnet handler of every WebSocket connection; the Conn is
// the evnet connection's Context.
var handler = evnet.Handler{OnData: onData, OnDrain: onDrain, OnClose: onClose, OnTimer: onTimer}

func connOf(nc *evnet.Conn) *Conn {
	c, _ := nc.Context().(*Conn)
	return c
}

func onData(nc *evnet.Conn, p []byte) int {
	if c := connOf(nc); c != nil {
		return c.read(p)
	}
	return len(p)
}

func onDrain(nc *evnet.Conn) {
	c := connOf(nc)
	if c == nil || c.flags&fDone != 0 {
		return
	}
	if c.paced != nil {
		c.pump()
		if c.paced != nil || c.nc.Full() {
			return // the program's OnDrain once the message is out
		}
	}
	if c.h.OnDrain != nil {
		c.h.OnDrain(c)
	}
}

func onClose(nc *evnet.Conn, reason error) {
	if c := connOf(nc); c != nil {
		c.closed(reason)
	}
}

func onTimer(nc *evnet.Conn) {
	if c := connOf(nc); c != nil {
		c.timer()
	}
}

// start makes c the evnet connection's protocol and runs OnOpen.
func (c *Conn) start(nc *evnet.Conn) {
	c.nc = nc
	c.ls = stateOf(nc.Loop())
	nc.SetContext(c)
	c.flags |= fOpen
	if c.cfg.PingInterval > 0 {
		c.lastRead = nc.Loop().Now()
		nc.SetTimer(c.cfg.PingInterval)
	}
	if c.h.OnOpen != nil {
		c.h.OnOpen(c)
	}
}

// read is OnData: it handles the frames in p and returns the bytes
// consumed. A control frame is consumed only whole; a data frame's payload
// as it comes.
func (c *Conn) read(p []byte) int {
	if c.cfg.PingInterval > 0 {
		c.lastRead = c.nc.Loop().Now()
		c.flags &^= fPingOut
	}
	off := 0
	for off < len(p) {
		if c.flags&fReadDone != 0 {
			return len(p)
		}
		if c.flags&fPaused != 0 {
			return off
		}
		if c.flags&fInFrame == 0 {
			h, n, err := parseHeader(p[off:])
			if err != nil {
				c.fail(CloseProtocolError, "bad frame length")
				return len(p)
			}
			if n == 0 {
				break
			}
			if code, why := c.check(&h); code != 0 {
				c.fail(code, why)
				return len(p)
			}
			if h.op.IsControl() {
				if uint64(len(p)-off-n) < h.length {
					break // wait for the whole control frame
				}
				pl := p[off+n : off+n+int(h.length)]
				if h.masked {
					maskBytes(h.mask, 0, pl)
				}
				off += n + len(pl)
				c.control(h.op, pl)
				continue
			}
			off += n
			c.hdr, c.left, c.maskPos = h, h.length, 0
			c.flags |= fInFrame
			if h.op != Continuation {
				c.msgOp = h.op
				c.utf8 = utf8State{}
				if h.rsv&bitRSV1 != 0 {
					c.flags |= fCompressed
				} else {
					c.flags &^= fCompressed
				}
			}
			if c.holding() && uint64(len(c.msg))+h.length > uint64(c.cfg.MaxMessageBytes) {
				c.fail(CloseTooBig, "message too big")
				return len(p)
			}
			if h.length == 0 {
				c.flags &^= fInFrame
				c.payload(nil, true)
				continue
			}
		}
		k := int(min(c.left, uint64(len(p)-off)))
		chunk := p[off : off+k]
		if c.hdr.masked {
			c.maskPos = uint8(maskBytes(c.hdr.mask, int(c.maskPos), chunk))
		}
		off += k
		c.left -= uint64(k)
		if c.left == 0 {
			c.flags &^= fInFrame
		}
		c.payload(chunk, c.left == 0)
	}
	return off
}

// holding reports whether the message in progress is gathered in c.msg
// (delivered whole, or compressed).
func (c *Conn) holding() bool {
	return c.h.OnFragment == nil || c.flags&fCompressed != 0
}

// check applies the rules of RFC 6455 §5 that depend on the connection to
// a frame header, and returns the close code and reason of a violation.
func (c *Conn) check(h *frameHeader) (StatusCode, string) {
	switch {
	case h.masked == (c.flags&fClient != 0):
		if h.masked {
			return CloseProtocolError, "masked frame from server"
		}
		return CloseProtocolError, "unmasked frame from client"
	case h.rsv&(bitRSV2|bitRSV3) != 0:
		return CloseProtocolError, "reserved bits set"
	case h.op.IsControl():
		switch {
		case h.op > Pong:
			return CloseProtocolError, "unknown opcode"
		case !h.fin:
			return CloseProtocolError, "fragmented control frame"
		case h.length > maxControl:
			return CloseProtocolError, "control frame too long"
		case h.rsv != 0:
			return CloseProtocolError, "reserved bits set"
		}
	case h.op > Binary:
		return CloseProtocolError, "unknown opcode"
	case h.op == Continuation:
		if c.msgOp == 0 {
			return CloseProtocolError, "continuation without a message"
		}
		if h.rsv != 0 {
			return CloseProtocolError, "reserved bits set"
		}
	default: // Text, Binary
		if c.msgOp != 0 {
			return CloseProtocolError, "new message inside a fragmented one"
		}
		if h.rsv&bitRSV1 != 0 && c.flags&fDeflate == 0 {
			return CloseProtocolError, "reserved bits set"
		}
	}
	return 0, ""
}

// payload handles a piece of a data frame's payload, unmasked; end says
// it ends the frame.
func (c *Conn) payload(p []byte, end bool) {
	last := end && c.hdr.fin
	op := c.msgOp
	if !c.holding() {
		if op == Text && (!c.utf8.valid(p) || last && !c.utf8.complete()) {
			c.fail(CloseInvalidData, "invalid UTF-8")
			return
		}
		if last {
			c.msgOp = 0
		}
		if len(p) > 0 || last {
			c.h.OnFragment(c, op, p, last)
		}
		return
	}
	compressed := c.flags&fCompressed != 0
	if last && c.msg == nil {
		// The whole message is in p: no copy.
		c.msgOp = 0
		c.deliver(op, p, compressed, false)
		return
	}
	if op == Text && !compressed && !c.utf8.valid(p) {
		c.fail(CloseInvalidData, "invalid UTF-8")
		return
	}
	if c.msg == nil {
		c.msg = c.ls.getBuf()
	}
	c.msg = append(c.msg, p...)
	if last {
		m := c.msg
		c.msg = nil
		c.msgOp = 0
		c.deliver(op, m, compressed, true)
		c.ls.putBuf(m)
	}
}

// deliver hands a whole message to the program, once inflated and
// validated; held says that an uncompressed Text message's pieces were
// validated as they came.
func (c *Conn) deliver(op Opcode, p []byte, compressed, held bool) {
	if compressed {
		out, err := c.ls.inflate(p, c.window, c.cfg.MaxMessageBytes)
		switch {
		case err == errTooBig:
			c.fail(CloseTooBig, "message too big")
			return
		case err != nil:
			c.fail(CloseInvalidData, "invalid compressed data")
			return
		}
		if c.window != nil {
			c.keepWindow(out)
		}
		p = out
		defer c.ls.trimOut()
	} else if len(p) > c.cfg.MaxMessageBytes {
		c.fail(CloseTooBig, "message too big")
		return
	}
	if op == Text {
		ok := false
		if held && !compressed {
			ok = c.utf8.complete()
		} else {
			ok = validUTF8(p)
		}
		if !ok {
			c.fail(CloseInvalidData, "invalid UTF-8")
			return
		}
	}
	switch {
	case c.h.OnFragment != nil:
		c.h.OnFragment(c, op, p, true)
	case c.h.OnMessage != nil:
		c.h.OnMessage(c, op, p)
	}
}

// keepWindow appends out to the client's context, keeping its last
// window bytes.
func (c *Conn) keepWindow(out []byte) {
	w := c.window
	size := cap(w)
	if len(out) >= size {
		w = append(w[:0], out[len(out)-size:]...)
	} else {
		if drop := len(w) + len(out) - size; drop > 0 {
			w = w[:copy(w, w[drop:])]
		}
		w = append(w, out...)
	}
	c.window = w
}

// control handles a control frame.
func (c *Conn) control(op Opcode, p []byte) {
	switch op {
	case Ping:
		if c.flags&fCloseSent == 0 {
			c.writeFrame(Pong, 0, p)
		}
	case Pong:
		if c.h.OnPong != nil {
			c.h.OnPong(c, p)
		}
	case Close:
		c.closeReceived(p)
	}
}

// closeReceived handles the peer's Close frame.
func (c *Conn) closeReceived(p []byte) {
	code := CloseNoStatus
	var reason []byte
	switch {
	case len(p) == 1:
		c.fail(CloseProtocolError, "close frame of one byte")
		return
	case len(p) >= 2:
		code = StatusCode(p[0])<<8 | StatusCode(p[1])
		reason = p[2:]
		if !validCode(code) {
			c.fail(CloseProtocolError, "invalid close code")
			return
		}
		if !validUTF8(reason) {
			c.fail(CloseInvalidData, "invalid UTF-8 in close reason")
			return
		}
	}
	c.flags |= fCloseRecv | fReadDone
	if c.flags&fCloseSent == 0 {
		c.closeErr = &CloseError{Code: code, Reason: string(reason), Remote: true}
		var b [2]byte
		echo := b[:0]
		if code != CloseNoStatus {
			echo = append(echo, byte(code>>8), byte(code))
		}
		c.paced = nil
		c.writeFrame(Close, 0, echo)
		c.flags |= fCloseSent
	}
	c.finishClose()
}

// finishClose ends the connection once both Close frames are on their way:
// the server closes the TCP connection; the client waits for the server
// to (RFC 6455 §7.1.1), as long as CloseTimeout.
func (c *Conn) finishClose() {
	if c.flags&fClient == 0 {
		c.nc.Close()
		return
	}
	c.nc.SetTimer(c.cfg.CloseTimeout)
}

// fail sends a Close frame with code and reason and closes the connection
// after it (RFC 6455 §7.1.7): input is dropped, the sending side shut
// down, and the connection closed when the peer closes or CloseTimeout
// passes.
func (c *Conn) fail(code StatusCode, reason string) {
	if st := c.cfg.stats; st != nil && c.flags&fReadDone == 0 {
		switch code {
		case CloseProtocolError:
			st.protocolErrors.Add(1)
		case CloseInvalidData:
			st.invalidData.Add(1)
		case CloseTooBig:
			st.tooBig.Add(1)
		}
	}
	c.flags |= fReadDone
	if c.msg != nil {
		c.ls.putBuf(c.msg)
		c.msg = nil
	}
	if c.flags&fCloseSent != 0 {
		c.nc.Close()
		return
	}
	if c.closeErr == nil {
		c.closeErr = &CloseError{Code: code, Reason: reason}
	}
	c.sendClose(code, reason)
	c.nc.CloseWrite()
	c.nc.SetTimer(c.cfg.CloseTimeout)
}

// sendClose writes a Close frame.
func (c *Conn) sendClose(code StatusCode, reason string) {
	c.paced = nil // a message cut short: nothing may follow a Close frame
	var b [maxControl]byte
	p := append(b[:0], byte(code>>8), byte(code))
	p = append(p, reason[:min(len(reason), maxControl-2)]...)
	c.writeFrame(Close, 0, p)
	c.flags |= fCloseSent
}

// timer is OnTimer: the close handshake's deadline, or keep-alive.
func (c *Conn) timer() {
	if c.flags&(fCloseSent|fCloseRecv) != 0 {
		if c.closeErr == nil {
			c.closeErr = ErrCloseTimeout
		}
		c.nc.Abort()
		return
	}
	iv := c.cfg.PingInterval
	if iv <= 0 {
		return
	}
	idle := c.nc.Loop().Now().Sub(c.lastRead)
	switch {
	case c.flags&fPingOut != 0 && idle >= iv+c.cfg.PongTimeout:
		if st := c.cfg.stats; st != nil {
			st.deadPeers.Add(1)
		}
		c.closeErr = ErrDeadPeer
		c.nc.Abort()
	case c.flags&fPingOut != 0:
		c.nc.SetTimer(iv + c.cfg.PongTimeout - idle)
	case idle >= iv:
		c.writeFrame(Ping, 0, nil)
		c.flags |= fPingOut
		c.nc.SetTimer(c.cfg.PongTimeout)
	default:
		c.nc.SetTimer(iv - idle)
	}
}

// closed is evnet's OnClose.
func (c *Conn) closed(reason error) {
	if c.flags&fDone != 0 {
		return
	}
	c.flags |= fDone | fReadDone | fCloseSent
	if st := c.cfg.stats; st != nil && c.flags&fOpen != 0 {
		st.closed.Add(1)
	}
	if c.msg != nil {
		c.ls.putBuf(c.msg)
		c.msg = nil
	}
	if c.window != nil {
		c.ls.windows -= cap(c.window)
		c.window = nil
	}
	if c.closeErr != nil {
		reason = c.closeErr
	}
	if c.h.OnClose != nil && c.flags&fOpen != 0 {
		c.h.OnClose(c, reason)
	}
}

// WriteMessage sends p as one message of type op (Text or Binary),
// compressed if permessage-deflate was negotiated and p is long enough.
// It never blocks: what the kernel does not take at once is queued. When
// the queue already holds Config.MaxQueuedBytes, Config.QueuePolicy
// decides (ErrQueueFull, ErrDropped), so that the queue holds at most that
// plus one message. A message over 1 MiB is copied and sent in fragments
// as the queue drains, so that evnet's own cap (evnet.ConnConfig's
// MaxBuffered) never sees it whole; until its last fragment is out, Full
// is true and other messages are refused as by a full queue (control
// frames go between its fragments). It returns ErrClosed once a Close frame was
// sent, and ErrOpcode while a message of WriteFragment is unfinished.
// A Text message's p must be valid UTF-8; it is not checked.
func (c *Conn) WriteMessage(op Opcode, p []byte) error {
	if op != Text && op != Binary || c.sending != 0 {
		return ErrOpcode
	}
	if c.flags&fCloseSent != 0 {
		return ErrClosed
	}
	if c.paced != nil || c.queued() >= c.cfg.MaxQueuedBytes {
		return c.queueFull() // a message after a paced one would break into it
	}
	var rsv byte
	if c.flags&fDeflate != 0 && len(p) >= c.cfg.MinDeflateBytes && len(p) <= c.maxCompress() {
		p = c.ls.compress(p, c.cfg.DeflateLevel)
		rsv = bitRSV1
	}
	if len(p) > paceBytes {
		return c.writePaced(op, rsv, p)
	}
	return c.writeFrame(op, rsv, p)
}

// queued returns the bytes of the output queue, a paced message's
// included.
func (c *Conn) queued() int { return c.nc.Buffered() + c.pacedLeft() }

// WriteFragment sends p as a piece of a message of type op (Text or
// Binary) whose length is not known in advance, last telling the final
// piece: the first call starts the message, the others continue it, and
// the message is sent uncompressed. Other messages cannot be written until
// the last piece (ErrOpcode); control frames can. The queue limit and
// policy are WriteMessage's, for each piece.
func (c *Conn) WriteFragment(op Opcode, p []byte, last bool) error {
	if op != Text && op != Binary || c.sending != 0 && c.sending != op {
		return ErrOpcode
	}
	if c.flags&fCloseSent != 0 {
		return ErrClosed
	}
	if c.queued() >= c.cfg.MaxQueuedBytes || c.paced != nil {
		return c.queueFull()
	}
	fop := op
	if c.sending != 0 {
		fop = Continuation
	}
	if err := c.writeFrameFin(last, fop, 0, p); err != nil {
		return err
	}
	c.sending = op
	if last {
		c.sending = 0
	}
	return nil
}

// maxCompress is the longest message this side may compress: any, unless
// the peer asked for a window smaller than compress/flate's 32 KiB; then
// a message no longer than the window (whose matches cannot reach past
// it, there being no context).
func (c *Conn) maxCompress() int {
	bits := c.deflate.serverBits
	if c.flags&fClient != 0 {
		bits = c.deflate.clientBits
	}
	if bits >= 15 || bits == 0 {
		return int(^uint(0) >> 1)
	}
	return 1 << bits
}

// WriteControl sends a Ping or Pong with payload p (at most 125 bytes).
func (c *Conn) WriteControl(op Opcode, p []byte) error {
	switch {
	case op != Ping && op != Pong:
		return ErrOpcode
	case len(p) > maxControl:
		return ErrControlTooLong
	case c.flags&fCloseSent != 0:
		return ErrClosed
	}
	return c.writeFrame(op, 0, p)
}

// Close starts the close handshake: it sends a Close frame with code and
// reason (cut to 123 bytes), goes on reading until the peer's Close frame,
// and closes the connection then, or after Config.CloseTimeout. code must
// be one a Close frame may carry (1000-1003, 1007-1014, 3000-4999; else
// ErrCloseCode). Messages
// that arrive meanwhile are still delivered. OnClose gets a *CloseError
// with this code.
func (c *Conn) Close(code StatusCode, reason string) error {
	switch {
	case !validCode(code):
		return ErrCloseCode
	case c.flags&fCloseSent != 0:
		return ErrClosed
	case c.nc == nil:
		return ErrNotOpen
	}
	c.closeErr = &CloseError{Code: code, Reason: reason}
	c.sendClose(code, reason)
	c.nc.SetTimer(c.cfg.CloseTimeout)
	return nil
}

// writeFrame frames p as a final frame (masked on a client) and writes
// it; the queue limit is the caller's business.
func (c *Conn) writeFrame(op Opcode, rsv byte, p []byte) error {
	return c.writeFrameFin(true, op, rsv, p)
}

// writeFrameFin is writeFrame with the FIN bit given.
func (c *Conn) writeFrameFin(fin bool, op Opcode, rsv byte, p []byte) error {
	if c.flags&fDone != 0 {
		return ErrClosed
	}
	if c.nc == nil {
		return ErrNotOpen
	}
	client := c.flags&fClient != 0
	var key [4]byte
	if client {
		k := rand.Uint32()
		key = [4]byte{byte(k), byte(k >> 8), byte(k >> 16), byte(k >> 24)}
	}
	const chunk = 64 << 10
	if len(p) <= chunk {
		b := appendHeader(c.ls.wbuf[:0], fin, rsv, op, len(p), client, key)
		hl := len(b)
		b = append(b, p...)
		if client {
			maskBytes(key, 0, b[hl:])
		}
		c.ls.wbuf = b[:0]
		_, err := c.nc.Write(b)
		return err
	}
	var hb [maxHeader]byte
	if _, err := c.nc.Write(appendHeader(hb[:0], fin, rsv, op, len(p), client, key)); err != nil {
		return err
	}
	if !client {
		_, err := c.nc.Write(p)
		return err
	}
	pos := 0
	for len(p) > 0 {
		n := min(len(p), chunk)
		b := append(c.ls.wbuf[:0], p[:n]...)
		pos = maskBytes(key, pos, b)
		c.ls.wbuf = b[:0]
		if _, err := c.nc.Write(b); err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}

// queueFull applies the QueuePolicy to a message that does not fit.
func (c *Conn) queueFull() error {
	switch c.cfg.QueuePolicy {
	case QueueDrop:
		c.dropped++
		return ErrDropped
	case QueueClose:
		if c.closeErr == nil {
			c.closeErr = ErrQueueFull
		}
		c.flags |= fReadDone | fCloseSent
		c.nc.Abort()
	}
	return ErrQueueFull
}

// Full reports whether the output queue is over its high watermark: a
// writer should stop until OnDrain.
func (c *Conn) Full() bool { return c.paced != nil || c.nc.Full() }

// Buffered returns the bytes of the output queue, those of a large
// message not yet handed to evnet included.
func (c *Conn) Buffered() int { return c.queued() }

// Dropped returns the messages dropped by QueueDrop.
func (c *Conn) Dropped() int64 { return c.dropped }

// PauseRead stops reading: no callback runs until ResumeRead, the kernel's
// buffer fills, and the peer is slowed down. Called from OnMessage, it
// takes effect after it: the frames read already wait.
func (c *Conn) PauseRead() {
	c.flags |= fPaused
	c.nc.PauseRead()
}

// ResumeRead resumes reading after PauseRead.
func (c *Conn) ResumeRead() {
	c.flags &^= fPaused
	c.nc.ResumeRead()
}

// Subprotocol returns the negotiated subprotocol, or "".
func (c *Conn) Subprotocol() string {
	if c.proto == 0 {
		return ""
	}
	return c.cfg.Subprotocols[c.proto-1]
}

// setProto records the subprotocol p, one of cfg.Subprotocols.
func (c *Conn) setProto(p string) {
	for i, s := range c.cfg.Subprotocols {
		if s == p && i < 255 {
			c.proto = uint8(i + 1)
			return
		}
	}
}

// Compressed reports whether permessage-deflate was negotiated.
func (c *Conn) Compressed() bool { return c.flags&fDeflate != 0 }

// NetConn returns the underlying evnet connection (for its addresses,
// TLSState and socket options). Its Context and handler are evws's.
func (c *Conn) NetConn() *evnet.Conn { return c.nc }

// Loop returns the connection's loop.
func (c *Conn) Loop() *eddy.Loop { return c.nc.Loop() }

// Context returns the value set by SetContext.
func (c *Conn) Context() any { return c.ctx }

// SetContext attaches a value of the program's to the connection.
func (c *Conn) SetContext(v any) { c.ctx = v }

// Abort closes the connection at once, without a close handshake.
func (c *Conn) Abort() error {
	if c.closeErr == nil {
		c.closeErr = evnet.ErrAborted
	}
	c.flags |= fReadDone | fCloseSent
	return c.nc.Abort()
}
