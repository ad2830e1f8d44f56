package wsconform

import (
	"bytes"
	"compress/flate"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ext is one extension of a Sec-WebSocket-Extensions header: its name and
// parameters in order (a parameter without a value has value "").
type ext struct {
	name   string
	params [][2]string
}

func (e ext) has(p string) (string, bool) {
	for _, kv := range e.params {
		if kv[0] == p {
			return kv[1], true
		}
	}
	return "", false
}

func (e ext) String() string {
	s := e.name
	for _, kv := range e.params {
		s += "; " + kv[0]
		if kv[1] != "" {
			s += "=" + kv[1]
		}
	}
	return s
}

// parseExtensions parses header values (RFC 6455 9.1, without quoted
// strings containing commas, which permessage-deflate never needs).
func parseExtensions(values []string) ([]ext, error) {
	var out []ext
	for _, v := range values {
		for _, one := range strings.Split(v, ",") {
			parts := strings.Split(one, ";")
			e := ext{name: strings.TrimSpace(parts[0])}
			if e.name == "" {
				if strings.TrimSpace(one) == "" {
					continue
				}
				return nil, fmt.Errorf("extension without a name in %q", v)
			}
			for _, p := range parts[1:] {
				k, val, _ := strings.Cut(p, "=")
				k = strings.TrimSpace(k)
				val = strings.Trim(strings.TrimSpace(val), `"`)
				if k == "" {
					return nil, fmt.Errorf("empty parameter in %q", v)
				}
				e.params = append(e.params, [2]string{k, val})
			}
			out = append(out, e)
		}
	}
	return out, nil
}

// windowBits parses a max_window_bits value: 8 to 15.
func windowBits(v string) (int, bool) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 8 || n > 15 || strconv.Itoa(n) != v {
		return 0, false
	}
	return n, true
}

// deflateState is one side's permessage-deflate state (RFC 7692): how it
// compresses what it sends and inflates what it receives.
type deflateState struct {
	sendNoCtx bool // reset the compressor for every message
	sendBits  int  // the window we may use when compressing
	recvNoCtx bool // the peer resets its compressor every message
	recvBits  int  // the window the peer declared, if under 15 bits
	params    string

	fw   *flate.Writer
	fbuf bytes.Buffer
	dict []byte // the last 32 KiB inflated, when the peer keeps context
}

// compress returns the message's compressed payload (without the final
// 00 00 ff ff). A window below 15 bits is honoured by Huffman coding
// only: no back-reference at all, which is valid for any window.
func (d *deflateState) compress(msg []byte) []byte {
	d.fbuf.Reset()
	level := flate.BestSpeed
	if d.sendBits < 15 {
		level = flate.HuffmanOnly
	}
	if d.fw == nil {
		d.fw, _ = flate.NewWriter(&d.fbuf, level)
	} else if d.sendNoCtx {
		d.fw.Reset(&d.fbuf)
	}
	d.fw.Write(msg)
	d.fw.Flush()
	b := d.fbuf.Bytes()
	out := make([]byte, len(b)-4)
	copy(out, b)
	return out
}

// inflateTail ends a message's deflate data: the sync-flush marker the
// sender removed, then an empty final stored block so that the reader
// ends cleanly.
var inflateTail = []byte{0, 0, 0xff, 0xff, 1, 0, 0, 0xff, 0xff}

func (d *deflateState) decompress(p []byte) ([]byte, error) {
	if d.recvBits >= 8 && d.recvBits < 15 {
		reach, err := deflateReach(append(p[:len(p):len(p)], inflateTail[:4]...))
		if err != nil {
			return nil, err
		}
		if reach > 1<<d.recvBits {
			return nil, fmt.Errorf("a back-reference of %d bytes, past the %d-byte window it declared", reach, 1<<d.recvBits)
		}
	}
	in := io.MultiReader(bytes.NewReader(p), bytes.NewReader(inflateTail))
	var r io.ReadCloser
	if d.recvNoCtx || len(d.dict) == 0 {
		r = flate.NewReader(in)
	} else {
		r = flate.NewReaderDict(in, d.dict)
	}
	out, err := io.ReadAll(io.LimitReader(r, maxMessage+1))
	if err != nil {
		return out, err
	}
	if len(out) > maxMessage {
		return nil, fmt.Errorf("inflates past %d bytes", maxMessage)
	}
	if !d.recvNoCtx {
		d.dict = append(d.dict, out...)
		if len(d.dict) > 32<<10 {
			d.dict = append([]byte(nil), d.dict[len(d.dict)-32<<10:]...)
		}
	}
	return out, nil
}

// negotiateClient checks a server's answer to the runner's offers and
// returns the state to use, or why the answer is wrong. strictNote, when
// not empty, says how the answer bends RFC 7692 without breaking the echo.
func negotiateClient(offers []ext, answer []ext) (d *deflateState, strictNote string, err error) {
	if len(answer) == 0 {
		return nil, "", nil
	}
	if len(answer) > 1 {
		return nil, "", fmt.Errorf("%d extensions accepted, one offered", len(answer))
	}
	a := answer[0]
	if a.name != "permessage-deflate" {
		return nil, "", fmt.Errorf("extension %q was not offered", a.name)
	}
	d = &deflateState{sendBits: 15, params: a.String()}
	seen := map[string]bool{}
	for _, kv := range a.params {
		if seen[kv[0]] {
			return nil, "", fmt.Errorf("parameter %s twice in %q", kv[0], a)
		}
		seen[kv[0]] = true
		switch kv[0] {
		case "server_no_context_takeover":
			if kv[1] != "" {
				return nil, "", fmt.Errorf("%s with a value in %q", kv[0], a)
			}
			d.recvNoCtx = true
		case "client_no_context_takeover":
			if kv[1] != "" {
				return nil, "", fmt.Errorf("%s with a value in %q", kv[0], a)
			}
			d.sendNoCtx = true
		case "server_max_window_bits":
			n, ok := windowBits(kv[1])
			if !ok {
				return nil, "", fmt.Errorf("server_max_window_bits=%q in %q", kv[1], a)
			}
			d.recvBits = n
		case "client_max_window_bits":
			n, ok := windowBits(kv[1])
			if !ok {
				return nil, "", fmt.Errorf("client_max_window_bits=%q in %q", kv[1], a)
			}
			d.sendBits = n
		default:
			return nil, "", fmt.Errorf("unknown parameter %s in %q", kv[0], a)
		}
	}
	// Which offer does the answer accept? One is enough.
	var notes []string
	for _, o := range offers {
		note, err := answerFits(o, a)
		if err == nil && note == "" {
			d.applyOffer(o)
			return d, "", nil
		}
		if err == nil {
			notes = append(notes, note)
		}
	}
	if len(notes) > 0 {
		d.applyOffer(offers[0])
		return d, notes[0], nil
	}
	_, err = answerFits(offers[len(offers)-1], a)
	return nil, "", err
}

// applyOffer applies what the client declared of itself in its offer.
func (d *deflateState) applyOffer(o ext) {
	if _, ok := o.has("client_no_context_takeover"); ok {
		d.sendNoCtx = true
	}
	if v, ok := o.has("client_max_window_bits"); ok && v != "" {
		if n, ok := windowBits(v); ok && n < d.sendBits {
			d.sendBits = n
		}
	}
}

// answerFits says whether the answer a may accept the offer o.
func answerFits(o, a ext) (note string, err error) {
	if _, ok := a.has("client_max_window_bits"); ok {
		if _, offered := o.has("client_max_window_bits"); !offered {
			return "", fmt.Errorf("client_max_window_bits in %q, not offered in %q", a, o)
		}
	}
	if v, ok := o.has("server_max_window_bits"); ok {
		n, _ := windowBits(v)
		av, ok := a.has("server_max_window_bits")
		if !ok && n == 15 {
			return "", nil // no parameter: the 15-bit window asked for
		}
		if !ok {
			return fmt.Sprintf("accepted %q without server_max_window_bits: its window is not bounded as asked (RFC 7692 7.1.2.1); its messages inflated with a 32 KiB window", o), nil
		}
		if m, _ := windowBits(av); m > n {
			return "", fmt.Errorf("server_max_window_bits=%d answers an offer of %d", m, n)
		}
	}
	return "", nil
}

// negotiateServer answers a client's offers with the parameter set a
// case asks for (the mirror's side). It accepts the first
// permessage-deflate offer, adding what the set asks that the offer
// allows.
func negotiateServer(offers []ext, set pmdSet) (answer string, d *deflateState) {
	for _, o := range offers {
		if o.name != "permessage-deflate" {
			continue
		}
		a := ext{name: "permessage-deflate"}
		d = &deflateState{sendBits: 15}
		if _, ok := o.has("server_no_context_takeover"); ok || set.serverNoCtx {
			a.params = append(a.params, [2]string{"server_no_context_takeover", ""})
			d.sendNoCtx = true
		}
		if _, ok := o.has("client_no_context_takeover"); ok || set.clientNoCtx {
			a.params = append(a.params, [2]string{"client_no_context_takeover", ""})
			d.recvNoCtx = true
		}
		bits := set.serverBits
		if v, ok := o.has("server_max_window_bits"); ok {
			n, _ := windowBits(v)
			if bits == 0 || n < bits {
				bits = n
			}
		}
		if bits != 0 {
			a.params = append(a.params, [2]string{"server_max_window_bits", strconv.Itoa(bits)})
			d.sendBits = bits
		}
		if v, ok := o.has("client_max_window_bits"); ok && set.clientBits != 0 {
			b := set.clientBits
			if n, ok := windowBits(v); ok && n < b {
				b = n
			}
			a.params = append(a.params, [2]string{"client_max_window_bits", strconv.Itoa(b)})
			d.recvBits = b
		}
		if v, ok := o.has("client_max_window_bits"); ok && v != "" {
			if n, ok := windowBits(v); ok && (d.recvBits == 0 || n < d.recvBits) {
				d.recvBits = n
			}
		}
		d.params = a.String()
		return a.String(), d
	}
	return "", nil
}

// pmdSet is a compression case's parameters: for the fuzzing client, the
// offers it makes; for the mirror, what its answer asks.
type pmdSet struct {
	offers      []string
	serverNoCtx bool
	clientNoCtx bool
	serverBits  int
	clientBits  int
	desc        string
}
