package wsconform

import (
	"bufio"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
	"unicode/utf8"
)

// item is one thing the peer sent that a case compares: a whole message
// (text or binary, reassembled from its frames and inflated) or a pong.
type item struct {
	op   byte // opText, opBinary or opPong
	data []byte
	comp bool // it came compressed
}

func (it item) String() string {
	kind := map[byte]string{opText: "text", opBinary: "binary", opPong: "pong"}[it.op]
	if len(it.data) <= 16 {
		return fmt.Sprintf("%s %q", kind, it.data)
	}
	return fmt.Sprintf("%s of %d bytes", kind, len(it.data))
}

// closeInfo is the peer's close frame.
type closeInfo struct {
	code    int // 0: no status code
	reason  string
	invalid string // why the frame itself is malformed, if it is
}

func (ci *closeInfo) String() string {
	if ci.code == 0 {
		return "close without a code"
	}
	return fmt.Sprintf("close %d", ci.code)
}

// conn is one WebSocket connection of the runner's, on either side. A
// goroutine reads the peer's frames, checks them, answers pings and
// records what came; the case's goroutine writes and waits on what was
// recorded.
type conn struct {
	nc        net.Conn
	br        *bufio.Reader
	mask      bool // we are the client: mask what we send
	peerMasks bool // we are the server: the peer must mask
	pmd       *deflateState

	wmu        sync.Mutex
	sentClose  bool
	writeErr   error
	readerDone chan struct{}

	mu        sync.Mutex
	changed   chan struct{}
	items     []item
	pings     int
	close     *closeInfo
	eof       error     // the read error that ended the connection
	eofAt     time.Time // when
	violation string    // the first protocol violation of the peer's
}

func newConn(nc net.Conn, br *bufio.Reader, client bool, pmd *deflateState) *conn {
	c := &conn{nc: nc, br: br, mask: client, peerMasks: !client, pmd: pmd,
		changed: make(chan struct{}), readerDone: make(chan struct{})}
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	go c.readLoop()
	return c
}

func (c *conn) notify() {
	close(c.changed)
	c.changed = make(chan struct{})
}

func (c *conn) violate(format string, args ...any) {
	c.mu.Lock()
	if c.violation == "" {
		c.violation = fmt.Sprintf(format, args...)
	}
	c.notify()
	c.mu.Unlock()
}

// wait returns when pred (called with c.mu held) is true, or false at the
// deadline.
func (c *conn) wait(deadline time.Time, pred func() bool) bool {
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	for {
		c.mu.Lock()
		ok := pred()
		ch := c.changed
		c.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-ch:
		case <-t.C:
			c.mu.Lock()
			defer c.mu.Unlock()
			return pred()
		}
	}
}

// ended reports (under c.mu) whether the peer closed or the connection
// ended.
func (c *conn) ended() bool { return c.close != nil || c.eof != nil }

// snapshot returns what the peer sent so far.
func (c *conn) snapshot() (items []item, ci *closeInfo, eof error, violation string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]item(nil), c.items...), c.close, c.eof, c.violation
}

// encode frames the given frames as this side must (masked by a client).
func (c *conn) encode(fs ...wf) []byte {
	var b []byte
	for _, f := range fs {
		var key [4]byte
		mask := c.mask != f.badMask
		if mask && !f.zeroKey {
			rand.Read(key[:])
		}
		b = appendFrame(b, f, mask, key)
		if f.op == opClose {
			c.wmu.Lock()
			c.sentClose = true
			c.wmu.Unlock()
		}
	}
	return b
}

// send writes the frames in one write.
func (c *conn) send(fs ...wf) { c.write(c.encode(fs...), 0, 0) }

// sendEach writes the frames one write each, pausing between them.
func (c *conn) sendEach(pause time.Duration, fs ...wf) {
	for i, f := range fs {
		if i > 0 && pause > 0 {
			time.Sleep(pause)
		}
		c.write(c.encode(f), 0, 0)
	}
}

// sendChopped writes the frames' bytes in writes of chop bytes, pausing
// between them.
func (c *conn) sendChopped(chop int, pause time.Duration, fs ...wf) {
	c.write(c.encode(fs...), chop, pause)
}

// write writes b, in chops of chop bytes if chop > 0. Errors are kept:
// a peer that failed the connection may have reset it.
func (c *conn) write(b []byte, chop int, pause time.Duration) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.writeErr != nil {
		return
	}
	if chop <= 0 {
		chop = len(b)
	}
	for len(b) > 0 {
		n := min(chop, len(b))
		if _, err := c.nc.Write(b[:n]); err != nil {
			c.writeErr = err
			return
		}
		b = b[n:]
		if len(b) > 0 && pause > 0 {
			c.wmu.Unlock()
			time.Sleep(pause)
			c.wmu.Lock()
		}
	}
}

// sendMessage sends a data message, compressed when deflate was
// negotiated, in frames of at most fragSize bytes (0: one frame).
func (c *conn) sendMessage(op byte, data []byte, fragSize int) {
	var rsv byte
	if c.pmd != nil {
		data = c.pmd.compress(data)
		rsv = 4
	}
	if fragSize <= 0 || len(data) <= fragSize {
		c.send(wf{fin: true, rsv: rsv, op: op, payload: data})
		return
	}
	var fs []wf
	for i := 0; i < len(data); i += fragSize {
		f := wf{op: opCont, payload: data[i:min(i+fragSize, len(data))]}
		if i == 0 {
			f.op, f.rsv = op, rsv
		}
		f.fin = i+fragSize >= len(data)
		fs = append(fs, f)
	}
	c.send(fs...)
}

// shutdown closes the connection and waits for the reader.
func (c *conn) shutdown() {
	c.nc.Close()
	<-c.readerDone
}

// maxMessage bounds what the reader assembles, so that a misbehaving
// peer cannot make the runner hold unbounded memory.
const maxMessage = 64 << 20

func (c *conn) readLoop() {
	defer close(c.readerDone)
	var (
		msgOp   byte
		msg     []byte
		msgComp bool
		inMsg   bool
		hdr     [14]byte
	)
	for {
		if _, err := io.ReadFull(c.br, hdr[:2]); err != nil {
			c.finish(err)
			return
		}
		fin := hdr[0]&0x80 != 0
		rsv := (hdr[0] >> 4) & 7
		op := hdr[0] & 0xF
		masked := hdr[1]&0x80 != 0
		n := uint64(hdr[1] & 0x7F)
		switch n {
		case 126:
			if _, err := io.ReadFull(c.br, hdr[2:4]); err != nil {
				c.finish(err)
				return
			}
			n = uint64(binary.BigEndian.Uint16(hdr[2:4]))
			if n < 126 {
				c.violate("a payload length of %d in the 16-bit form", n)
			}
		case 127:
			if _, err := io.ReadFull(c.br, hdr[2:10]); err != nil {
				c.finish(err)
				return
			}
			n = binary.BigEndian.Uint64(hdr[2:10])
			if n < 1<<16 || n>>63 != 0 {
				c.violate("a payload length of %d in the 64-bit form", n)
			}
		}
		var key [4]byte
		if masked {
			if _, err := io.ReadFull(c.br, key[:]); err != nil {
				c.finish(err)
				return
			}
		}
		if masked != c.peerMasks {
			if c.peerMasks {
				c.violate("an unmasked frame from the client")
			} else {
				c.violate("a masked frame from the server")
			}
		}
		if n > maxMessage {
			c.violate("a frame of %d bytes", n)
			c.finish(errors.New("frame too large"))
			return
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(c.br, payload); err != nil {
			c.finish(err)
			return
		}
		if masked {
			maskBytes(payload, key, 0)
		}
		c.mu.Lock()
		afterClose := c.close != nil
		c.mu.Unlock()
		if afterClose {
			c.violate("a frame (opcode %d) after its close frame", op)
			continue
		}
		if op >= 8 {
			if !fin {
				c.violate("a fragmented control frame (opcode %d)", op)
			}
			if n > 125 {
				c.violate("a control frame of %d bytes", n)
			}
			if rsv != 0 {
				c.violate("RSV bits %d on a control frame", rsv)
			}
		}
		switch op {
		case opPing:
			c.mu.Lock()
			c.pings++
			c.mu.Unlock()
			c.wmu.Lock()
			closed := c.sentClose
			c.wmu.Unlock()
			if !closed {
				c.send(pong(payload))
			}
		case opPong:
			c.mu.Lock()
			c.items = append(c.items, item{opPong, payload, false})
			c.notify()
			c.mu.Unlock()
		case opClose:
			ci := parseClose(payload)
			c.wmu.Lock()
			closed := c.sentClose
			c.wmu.Unlock()
			if !closed {
				// Answer as an endpoint does: the code echoed.
				if ci.code != 0 && ci.invalid == "" {
					c.send(closeF(ci.code, ""))
				} else {
					c.send(closeRaw(nil))
				}
			}
			c.mu.Lock()
			c.close = ci
			c.notify()
			c.mu.Unlock()
		case opText, opBinary, opCont:
			if op == opCont {
				if !inMsg {
					c.violate("a continuation frame with no message to continue")
					continue
				}
			} else {
				if inMsg {
					c.violate("a new message started inside a fragmented one")
				}
				inMsg, msgOp, msg = true, op, nil
				msgComp = rsv&4 != 0
			}
			if op != opCont && rsv&4 != 0 && c.pmd == nil {
				c.violate("RSV1 set without permessage-deflate")
			}
			if rsv&3 != 0 || (op == opCont && rsv != 0) {
				c.violate("RSV bits %d on a data frame", rsv)
			}
			msg = append(msg, payload...)
			if len(msg) > maxMessage {
				c.violate("a message over %d bytes", maxMessage)
				c.finish(errors.New("message too large"))
				return
			}
			if !fin {
				continue
			}
			inMsg = false
			data := msg
			if msgComp && c.pmd != nil {
				var err error
				if data, err = c.pmd.decompress(msg); err != nil {
					c.violate("a compressed message that does not inflate: %v", err)
				}
			}
			if msgOp == opText && !utf8.Valid(data) {
				c.violate("a text message that is not UTF-8")
			}
			c.mu.Lock()
			c.items = append(c.items, item{msgOp, data, msgComp})
			c.notify()
			c.mu.Unlock()
		default:
			c.violate("reserved opcode %d", op)
		}
	}
}

func (c *conn) finish(err error) {
	c.mu.Lock()
	if c.eof == nil {
		if err == nil {
			err = io.EOF
		}
		c.eof, c.eofAt = err, time.Now()
	}
	c.notify()
	c.mu.Unlock()
}

// parseClose reads a close frame's payload (RFC 6455 5.5.1, 7.4).
func parseClose(p []byte) *closeInfo {
	ci := &closeInfo{}
	switch {
	case len(p) == 0:
	case len(p) == 1:
		ci.invalid = "a close payload of one byte"
	default:
		ci.code = int(binary.BigEndian.Uint16(p))
		ci.reason = string(p[2:])
		if !validCloseCode(ci.code) {
			ci.invalid = fmt.Sprintf("close code %d may not be sent", ci.code)
		} else if !utf8.Valid(p[2:]) {
			ci.invalid = "a close reason that is not UTF-8"
		}
	}
	return ci
}

// validCloseCode reports whether an endpoint may send code (RFC 6455
// 7.4.1, 7.4.2 and the IANA registry: 1012-1014 are registered since).
func validCloseCode(code int) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}

// deadlineErr marks a wait that ran out.
var errTimeout = errors.New("timed out")

// pollRead is a helper for tests that want the next bytes raw.
func (c *conn) remote() string { return c.nc.RemoteAddr().String() }

// since formats a duration for a reason.
func since(t time.Time) string { return time.Since(t).Round(time.Millisecond).String() }
