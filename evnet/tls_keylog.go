package evnet

// How a TLS 1.3 server connection's handshake learns its application
// traffic secrets (for the record layer of tls13.go): from crypto/tls's
// key log lines.
//
// A listener's tls.Config, cloned once (TLSConfig.config), has a
// keyRouter as its KeyLogWriter. The loop, which feeds each handshake
// its input, reads the client random out of the ClientHello as it comes
// (helloRandom) and registers the handshake under it before crypto/tls
// can read the whole message; the router hands each line to the
// handshake registered under the line's client random. The handshake is
// let go of when it ends, or its connection closes. Two handshakes
// under one random (a client that sent another's ClientHello again) get
// no secrets, and keep crypto/tls's record layer.
//
// A config of the program's own from its GetConfigForClient, or one with
// Encrypted Client Hello keys (whose key log lines carry the random of
// the inner ClientHello, which the loop does not see), takes the path
// before the router: the handshake gets a clone of the config whose
// KeyLogWriter is the handshake itself.

import (
	"crypto/tls"
	"encoding/hex"
	"io"
	"sync"
)

// The key log labels of the application traffic secrets.
const (
	labelClient0 = "CLIENT_TRAFFIC_SECRET_0"
	labelServer0 = "SERVER_TRAFFIC_SECRET_0"
)

// keyLogLine splits line, a key log line ("LABEL RANDOM SECRET\n", the
// latter two in hex), into its fields; nil fields for a line that is
// not one.
func keyLogLine(line []byte) (label, random, secret []byte) {
	var f [3][]byte
	n := 0
	start := 0
	for i := 0; i <= len(line) && n < 3; i++ {
		if i == len(line) || line[i] == ' ' || line[i] == '\n' || line[i] == '\r' {
			if i > start {
				f[n] = line[start:i]
				n++
			}
			start = i + 1
		}
	}
	if n < 3 {
		return nil, nil, nil
	}
	return f[0], f[1], f[2]
}

// trafficLabel reports whether label is that of an application traffic
// secret.
func trafficLabel(label []byte) bool {
	return string(label) == labelClient0 || string(label) == labelServer0
}

// learn keeps secret (hex), the secret of the key log line labelled
// label, if it is an application traffic secret. On the handshake's
// goroutine.
func (hs *handshake) learn(label, secret []byte) {
	var dst *[]byte
	switch string(label) {
	case labelClient0:
		dst = &hs.clientSecret
	case labelServer0:
		dst = &hs.serverSecret
	default:
		return
	}
	s := make([]byte, hex.DecodedLen(len(secret)))
	if _, err := hex.Decode(s, secret); err != nil || len(s) != 32 && len(s) != 48 {
		return
	}
	*dst = s
	if dst == &hs.serverSecret {
		hs.postOn = true
	}
}

// Write is the connection's KeyLogWriter during its handshake, on the
// path of a config of the program's own (on the handshake's goroutine):
// it keeps the application traffic secrets and passes the line on to
// the program's own KeyLogWriter, if any.
func (hs *handshake) Write(line []byte) (int, error) {
	label, _, secret := keyLogLine(line)
	hs.learn(label, secret)
	if hs.keyLog != nil {
		return hs.keyLog.Write(line)
	}
	return len(line), nil
}

// keyRouter is the KeyLogWriter of a server's tls.Config: it hands the
// application traffic secrets of each line to the handshake registered
// under the line's client random, and passes every line on to the
// program's own KeyLogWriter, if any. Its methods may be called from
// any goroutine.
type keyRouter struct {
	user io.Writer
	mu   sync.Mutex
	hs   map[[32]byte]keyRoute // guarded by mu
}

// keyRoute is the handshake registered under a client random, and how
// many are: with more than one, none gets the secrets (hs is nil).
type keyRoute struct {
	hs *handshake
	n  int
}

// Write routes a key log line.
func (kr *keyRouter) Write(line []byte) (int, error) {
	label, random, secret := keyLogLine(line)
	var r [32]byte
	if trafficLabel(label) && hex.DecodedLen(len(random)) == len(r) {
		if _, err := hex.Decode(r[:], random); err == nil {
			if hs := kr.lookup(r); hs != nil {
				hs.learn(label, secret)
			}
		}
	}
	if kr.user != nil {
		return kr.user.Write(line)
	}
	return len(line), nil
}

// lookup returns the handshake registered under random, nil for none
// (or more than one).
func (kr *keyRouter) lookup(random [32]byte) *handshake {
	kr.mu.Lock()
	defer kr.mu.Unlock()
	return kr.hs[random].hs
}

// add registers hs under random.
func (kr *keyRouter) add(random [32]byte, hs *handshake) {
	kr.mu.Lock()
	defer kr.mu.Unlock()
	if kr.hs == nil {
		kr.hs = make(map[[32]byte]keyRoute)
	}
	r, dup := kr.hs[random]
	if dup {
		r.hs = nil
	} else {
		r.hs = hs
	}
	r.n++
	kr.hs[random] = r
}

// remove lets go of a handshake registered under random.
func (kr *keyRouter) remove(random [32]byte) {
	kr.mu.Lock()
	defer kr.mu.Unlock()
	r := kr.hs[random]
	if r.n--; r.n <= 0 {
		delete(kr.hs, random)
		return
	}
	kr.hs[random] = r
}

// routes returns the number of client randoms registered (for tests).
func (kr *keyRouter) routes() int {
	kr.mu.Lock()
	defer kr.mu.Unlock()
	return len(kr.hs)
}

// helloRandom reads the client random out of the client's first
// handshake records as they arrive, in pieces of any size: record
// headers (5 bytes), then the ClientHello's message type (1) and length
// (3), its legacy_version (2) and the random (32), which may span
// records. Loop goroutine only.
type helloRandom struct {
	random [32]byte
	hdr    uint8  // header bytes of the current record seen (0 to 5)
	left   uint16 // its payload bytes still to come
	got    uint8  // ClientHello bytes seen, up to helloRandomEnd
	state  uint8  // helloReading, helloDone or helloFailed
}

// The states of a helloRandom, and where the random ends.
const (
	helloReading = iota
	helloDone
	helloFailed

	helloRandomEnd     = 4 + 2 + 32
	msgTypeClientHello = 1
)

// feed reads p, the next bytes from the client, and reports whether the
// random has just become whole.
func (h *helloRandom) feed(p []byte) bool {
	if h.state != helloReading {
		return false
	}
	for len(p) > 0 && h.state == helloReading {
		b := p[0]
		p = p[1:]
		if h.hdr < recordHeaderLen {
			h.header(b)
			continue
		}
		h.body(b)
	}
	return h.state == helloDone
}

// header reads a byte of a record header.
func (h *helloRandom) header(b byte) {
	switch h.hdr {
	case 0:
		if b != recordTypeHandshake {
			h.state = helloFailed
		}
	case 3:
		h.left = uint16(b) << 8
	case 4:
		h.left |= uint16(b)
	}
	h.hdr++
	if h.hdr == recordHeaderLen && h.left == 0 {
		h.hdr = 0
	}
}

// body reads a byte of a record's payload.
func (h *helloRandom) body(b byte) {
	if h.got == 0 && b != msgTypeClientHello {
		h.state = helloFailed
		return
	}
	if h.got >= helloRandomEnd-32 {
		h.random[h.got-(helloRandomEnd-32)] = b
	}
	h.got++
	if h.left--; h.left == 0 {
		h.hdr = 0
	}
	if h.got == helloRandomEnd {
		h.state = helloDone
	}
}

// allows13 reports whether cfg allows TLS 1.3.
func allows13(cfg *tls.Config) bool {
	return cfg.MaxVersion == 0 || cfg.MaxVersion >= tls.VersionTLS13
}

// keyLogConfig makes cfg, a server's, tell each TLS 1.3 connection's
// handshake its application traffic secrets: a keyRouter becomes its
// KeyLogWriter, unless it allows no TLS 1.3 or has Encrypted Client
// Hello keys. The program's own GetConfigForClient, if any, is still
// called: when it returns a config, the handshake uses a clone of that
// config whose KeyLogWriter is the handshake (chained to the config's
// own); so does every handshake when cfg has Encrypted Client Hello
// keys.
func keyLogConfig(cfg *tls.Config) {
	user := cfg.GetConfigForClient
	ech := len(cfg.EncryptedClientHelloKeys) > 0 || cfg.GetEncryptedClientHelloKeys != nil
	var kr *keyRouter
	if !ech && allows13(cfg) {
		kr = &keyRouter{user: cfg.KeyLogWriter}
		cfg.KeyLogWriter = kr
	}
	if user == nil && (kr != nil || !allows13(cfg)) {
		return
	}
	cfg.GetConfigForClient = func(chi *tls.ClientHelloInfo) (*tls.Config, error) {
		use := cfg
		if user != nil {
			c, err := user(chi)
			if err != nil {
				return nil, err
			}
			if c != nil {
				use = c
			}
		}
		return perHandshake(cfg, use, chi)
	}
}

// perHandshake returns the config of a handshake whose config is use
// (cfg, the listener's, or one of the program's): nil for cfg when its
// router serves it, else a clone of use whose KeyLogWriter is the
// handshake, when it allows TLS 1.3.
func perHandshake(cfg, use *tls.Config, chi *tls.ClientHelloInfo) (*tls.Config, error) {
	_, routed := cfg.KeyLogWriter.(*keyRouter)
	t, ok := chi.Conn.(*tlsConn)
	if use == cfg && routed || !ok || t.hs == nil || !allows13(use) {
		if use == cfg {
			return nil, nil
		}
		return use, nil
	}
	n := use.Clone()
	n.GetConfigForClient = nil
	t.hs.keyLog = use.KeyLogWriter
	n.KeyLogWriter = t.hs
	return n, nil
}
