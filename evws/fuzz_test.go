package evws

import (
	"encoding/base64"
	"testing"
	"unicode/utf8"
)

// FuzzParseHeader: a header parsed and written again reads the same, and
// never claims more bytes than it was given.
func FuzzParseHeader(f *testing.F) {
	f.Add([]byte{0x81, 0x85, 1, 2, 3, 4, 'h', 'e', 'l', 'l', 'o'})
	f.Add([]byte{0x02, 126, 0x01, 0x00})
	f.Add([]byte{0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0})
	f.Add([]byte{0x82, 127, 0x80, 0, 0, 0, 0, 1, 0, 0})
	f.Fuzz(func(t *testing.T, p []byte) {
		h, n, err := parseHeader(p)
		if err != nil || n == 0 {
			return
		}
		if n > len(p) || n > maxHeader {
			t.Fatalf("header of %d bytes from %d", n, len(p))
		}
		b := appendHeader(nil, h.fin, h.rsv, h.op, int(h.length), h.masked, h.mask)
		h2, n2, err := parseHeader(b)
		if err != nil || n2 != len(b) || h2 != h {
			t.Fatalf("round trip: %+v (%d) -> %x -> %+v (%d, %v)", h, n, b, h2, n2, err)
		}
	})
}

// FuzzUTF8: the incremental validator, fed in two pieces cut anywhere,
// agrees with unicode/utf8 on the whole.
func FuzzUTF8(f *testing.F) {
	f.Add([]byte("héllo wörld"), 3)
	f.Add([]byte("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited"), 12)
	f.Add([]byte("\xf4\x90\x80\x80"), 1)
	f.Add([]byte("\xf0\x9f\x98\x80 smile"), 2)
	f.Fuzz(func(t *testing.T, p []byte, cut int) {
		if cut < 0 || cut > len(p) {
			cut = len(p) / 2
		}
		var s utf8State
		got := s.valid(p[:cut]) && s.valid(p[cut:]) && s.complete()
		if want := utf8.Valid(p); got != want {
			t.Fatalf("%q cut at %d: %v, unicode/utf8 says %v", p, cut, got, want)
		}
		if validUTF8(p) != utf8.Valid(p) {
			t.Fatalf("%q: validUTF8 disagrees", p)
		}
		// An invalid sequence fails as soon as its bad byte is in: fed a
		// byte at a time, the validator stops within the first invalid
		// sequence unicode/utf8 finds.
		if !utf8.Valid(p) {
			first := 0
			for first < len(p) {
				r, n := utf8.DecodeRune(p[first:])
				if r == utf8.RuneError && n <= 1 {
					break
				}
				first += n
			}
			var s utf8State
			for i := range p {
				if !s.valid(p[i : i+1]) {
					if i < first || i > first+3 {
						t.Fatalf("%q: failed at byte %d, the first invalid sequence is at %d", p, i, first)
					}
					return
				}
			}
			if s.complete() { // never failed: only a cut sequence at the end may do that
				t.Fatalf("%q: invalid at %d, never failed", p, first)
			}
		}
	})
}

// FuzzExtensions: the extension header parser and the negotiation never
// panic, and what the server answers parses as what eddy's client accepts
// when the offer was the client's.
func FuzzExtensions(f *testing.F) {
	f.Add("permessage-deflate")
	f.Add("permessage-deflate; client_max_window_bits, permessage-deflate")
	f.Add("permessage-deflate; server_max_window_bits=10; client_max_window_bits=\"9\"")
	f.Add("x-webkit-deflate-frame, permessage-deflate; client_no_context_takeover; server_no_context_takeover")
	f.Add("permessage-deflate; server_max_window_bits=16")
	f.Add("permessage-deflate;;")
	f.Fuzz(func(t *testing.T, v string) {
		list, err := parseExtensions(nil, v)
		if err != nil {
			return
		}
		for _, e := range list {
			if e.name == "" {
				t.Fatalf("%q: empty extension name", v)
			}
		}
		for _, takeover := range []bool{false, true} {
			d, resp, ok := negotiateDeflate([]string{v}, takeover, 12)
			if !ok {
				continue
			}
			if !d.serverNoContext || d.clientBits < 8 || d.clientBits > 15 || d.serverBits < 8 || d.serverBits > 15 {
				t.Fatalf("%q: negotiated %+v", v, d)
			}
			rl, err := parseExtensions(nil, resp)
			if err != nil || len(rl) != 1 {
				t.Fatalf("%q: response %q does not parse: %v", v, resp, err)
			}
			if _, err := parseDeflate(rl[0], true); err != nil {
				t.Fatalf("%q: response %q: %v", v, resp, err)
			}
		}
	})
}

// FuzzHandshakeKey: a key is valid exactly when it is the base64 of 16
// bytes, and its accept value is 28 characters.
func FuzzHandshakeKey(f *testing.F) {
	f.Add("dGhlIHNhbXBsZSBub25jZQ==")
	f.Add("dGhlIHNhbXBsZSBub25jZQ")
	f.Add("dGhlIHNhbXBsZSBub25jZQ=x")
	f.Add("upgrade, websocket")
	f.Fuzz(func(t *testing.T, key string) {
		b, err := base64.StdEncoding.DecodeString(key)
		want := err == nil && len(b) == 16 && len(key) == 24
		if got := validKey([]byte(key)); got != want {
			t.Fatalf("validKey(%q) = %v, want %v", key, got, want)
		}
		if len(acceptKey(key)) != 28 {
			t.Fatalf("accept of %q", key)
		}
		if !hasToken(key+", WebSocket", "websocket") {
			t.Fatalf("hasToken(%q)", key+", WebSocket")
		}
	})
}
