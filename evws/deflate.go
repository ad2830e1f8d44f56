package evws

// permessage-deflate (RFC 7692): the negotiation of its parameters, and
// the compressor and decompressor each loop shares among its connections.

import (
	"bytes"
	"compress/flate"
	"errors"
	"io"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"weak"

	"github.com/eddyloop/eddy"
)

// deflateName is the extension's registered name.
const deflateName = "permessage-deflate"

// deflateParams are the negotiated parameters of permessage-deflate.
type deflateParams struct {
	serverNoContext, clientNoContext bool
	serverBits, clientBits           int // 0: not given (15)
	clientBitsOffered                bool
}

// errDeflateParams is an offer or response with a parameter that is
// unknown, repeated or out of range (RFC 7692 §5.1, §7.1).
var errDeflateParams = errors.New("evws: bad permessage-deflate parameters")

// parseDeflate reads the parameters of one permessage-deflate element.
// In a response (response true) client_max_window_bits must have a value.
func parseDeflate(e extension, response bool) (deflateParams, error) {
	var d deflateParams
	seen := 0
	for _, p := range e.params {
		var bit int
		switch p.name {
		case "server_no_context_takeover":
			bit, d.serverNoContext = 1, true
		case "client_no_context_takeover":
			bit, d.clientNoContext = 2, true
		case "server_max_window_bits":
			bit = 4
			n, ok := windowBits(p)
			if !ok || !p.hasValue {
				return d, errDeflateParams
			}
			d.serverBits = n
		case "client_max_window_bits":
			bit = 8
			d.clientBitsOffered = true
			if p.hasValue {
				n, ok := windowBits(p)
				if !ok {
					return d, errDeflateParams
				}
				d.clientBits = n
			} else if response {
				return d, errDeflateParams
			}
		default:
			return d, errDeflateParams
		}
		if bit <= 2 && p.hasValue || seen&bit != 0 {
			return d, errDeflateParams
		}
		seen |= bit
	}
	return d, nil
}

// windowBits reads a window size parameter: 8 to 15, no leading zero.
func windowBits(p extParam) (int, bool) {
	if !p.hasValue || len(p.value) == 0 || len(p.value) > 2 || p.value[0] == '0' {
		return 0, false
	}
	n, err := strconv.Atoi(p.value)
	return n, err == nil && n >= 8 && n <= 15
}

// negotiateDeflate picks the first permessage-deflate offer of the
// client's header values that the server accepts, and returns the
// parameters and the response element. takeover says whether the server
// may keep the client's context (a window of windowBits per connection).
// The server always answers server_no_context_takeover.
func negotiateDeflate(values []string, takeover bool, maxBits int) (deflateParams, string, bool) {
	var list []extension
	for _, v := range values {
		var err error
		if list, err = parseExtensions(list, v); err != nil {
			return deflateParams{}, "", false
		}
	}
	for _, e := range list {
		if e.name != deflateName {
			continue
		}
		d, err := parseDeflate(e, false)
		if err != nil {
			continue // a bad offer is declined; the next may do
		}
		var b strings.Builder
		b.WriteString(deflateName + "; server_no_context_takeover")
		d.serverNoContext = true
		if d.serverBits != 0 {
			b.WriteString("; server_max_window_bits=" + strconv.Itoa(d.serverBits))
		}
		if !takeover || d.clientNoContext {
			d.clientNoContext = true
			b.WriteString("; client_no_context_takeover")
		} else if d.clientBitsOffered {
			bits := maxBits
			if d.clientBits != 0 && d.clientBits < bits {
				bits = d.clientBits
			}
			d.clientBits = bits
			b.WriteString("; client_max_window_bits=" + strconv.Itoa(bits))
		}
		if d.clientBits == 0 {
			d.clientBits = 15
		}
		if d.serverBits == 0 {
			d.serverBits = 15
		}
		return d, b.String(), true
	}
	return deflateParams{}, "", false
}

// clientOffer is what eddy's client offers: no context on either side, so
// that neither keeps a compressor or a window per connection.
const clientOffer = deflateName + "; server_no_context_takeover; client_no_context_takeover"

// acceptDeflate checks a server's response to clientOffer.
func acceptDeflate(values []string) (d deflateParams, on bool, err error) {
	var list []extension
	for _, v := range values {
		if list, err = parseExtensions(list, v); err != nil {
			return d, false, err
		}
	}
	switch {
	case len(list) == 0:
		return d, false, nil
	case len(list) > 1 || list[0].name != deflateName:
		return d, false, errors.New("evws: server answered extensions not offered")
	}
	if d, err = parseDeflate(list[0], true); err != nil {
		return d, false, err
	}
	if !d.serverNoContext || d.clientBitsOffered {
		return d, false, errDeflateParams
	}
	d.clientNoContext = true
	d.clientBits = 15
	if d.serverBits == 0 {
		d.serverBits = 15
	}
	return d, true, nil
}

// deflateTail is what a compressed message lacks (RFC 7692 §7.2.2),
// followed by an empty final stored block so that the decompressor ends
// with io.EOF.
const deflateTail = "\x00\x00\xff\xff\x01\x00\x00\xff\xff"

// errInflate is a compressed message that does not inflate.
var errInflate = errors.New("evws: invalid compressed data")

// sink is an io.Writer that appends to a slice.
type sink struct{ b []byte }

func (s *sink) Write(p []byte) (int, error) {
	s.b = append(s.b, p...)
	return len(p), nil
}

// loopState is what the connections of one loop share: scratch buffers
// for framing, one compressor and one decompressor, message buffers to
// reuse, and the budget of bytes for the clients' contexts. It is used on
// the loop's goroutine only.
type loopState struct {
	wbuf  []byte // a frame being written
	zout  sink   // compressor output
	fw    *flate.Writer
	level int
	fr    io.ReadCloser // a flate.Resetter
	br    bytes.Reader
	in    []byte // a compressed message and deflateTail
	out   []byte // an inflated message
	free  [][]byte
	// windows is the bytes of clients' contexts kept on this loop
	// (context takeover), which Config.ContextTakeoverBudget bounds.
	windows int
}

// loops maps each loop (weakly: a closed loop is forgotten) to its state.
var loops sync.Map // weak.Pointer[eddy.Loop] -> *loopState

// stateOf returns the state of loop l.
func stateOf(l *eddy.Loop) *loopState {
	k := weak.Make(l)
	if v, ok := loops.Load(k); ok {
		return v.(*loopState)
	}
	v, loaded := loops.LoadOrStore(k, &loopState{})
	if !loaded {
		runtime.AddCleanup(l, func(k weak.Pointer[eddy.Loop]) { loops.Delete(k) }, k)
	}
	return v.(*loopState)
}

// maxKeep is the largest buffer kept for reuse.
const maxKeep = 1 << 20

// getBuf returns an empty message buffer.
func (ls *loopState) getBuf() []byte {
	if n := len(ls.free); n > 0 {
		b := ls.free[n-1]
		ls.free = ls.free[:n-1]
		return b
	}
	return make([]byte, 0, 4096)
}

// putBuf gives a message buffer back.
func (ls *loopState) putBuf(b []byte) {
	if cap(b) <= maxKeep && len(ls.free) < 64 {
		ls.free = append(ls.free, b[:0])
	}
}

// compress deflates p for a message of its own (no context) and returns
// the data without its final empty block, valid until the next call.
func (ls *loopState) compress(p []byte, level int) []byte {
	if ls.fw == nil || ls.level != level {
		ls.fw, _ = flate.NewWriter(&ls.zout, level)
		ls.level = level
	}
	ls.zout.b = ls.zout.b[:0]
	ls.fw.Reset(&ls.zout)
	ls.fw.Write(p)
	ls.fw.Flush()
	b := ls.zout.b
	if len(b) >= 4 {
		b = b[:len(b)-4] // 00 00 ff ff
	}
	if cap(ls.zout.b) > maxKeep {
		ls.zout.b = nil
	}
	return b
}

// inflate decompresses a message, with dict as the preceding context
// (nil without context takeover), into at most limit bytes, and returns
// them, valid until the next call. More than limit bytes is errTooBig:
// a decompression bomb costs limit bytes, no more.
func (ls *loopState) inflate(comp, dict []byte, limit int) ([]byte, error) {
	ls.in = append(append(ls.in[:0], comp...), deflateTail...)
	ls.br.Reset(ls.in)
	if ls.fr == nil {
		ls.fr = flate.NewReader(&ls.br)
	}
	ls.fr.(flate.Resetter).Reset(&ls.br, dict)
	out := ls.out[:0]
	for {
		if len(out) == cap(out) {
			if len(out) > limit {
				ls.release(out)
				return nil, errTooBig
			}
			n := min(max(2*cap(out), 4096), limit+1)
			out = append(out, make([]byte, n-len(out))...)[:len(out)]
		}
		n, err := ls.fr.Read(out[len(out):cap(out)])
		out = out[:len(out)+n]
		if len(out) > limit {
			ls.release(out)
			return nil, errTooBig
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			ls.release(out)
			return nil, errInflate
		}
	}
	ls.out = out
	if cap(ls.in) > maxKeep {
		ls.in = nil
	}
	return out, nil
}

// release keeps out for the next inflation unless it is large.
func (ls *loopState) release(out []byte) {
	if cap(out) <= maxKeep {
		ls.out = out[:0]
	} else {
		ls.out = nil
	}
}

// trimOut forgets a large inflation buffer once its message is delivered.
func (ls *loopState) trimOut() {
	if cap(ls.out) > maxKeep {
		ls.out = nil
	}
}
