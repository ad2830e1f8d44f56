package evnet

import (
	"bytes"
	"fmt"
	"testing"
)

// clientHelloRecords returns a ClientHello's start (message header,
// legacy_version, random, a few more bytes) in handshake records whose
// payloads are at most frag bytes.
func clientHelloRecords(random []byte, frag int) []byte {
	msg := append([]byte{msgTypeClientHello, 0, 0, 45, 3, 3}, random...)
	msg = append(msg, 0, 0, 2, 0x13, 0x01, 1, 0)
	var out []byte
	for len(msg) > 0 {
		k := min(frag, len(msg))
		out = append(out, recordTypeHandshake, 3, 1, byte(k>>8), byte(k))
		out = append(out, msg[:k]...)
		msg = msg[k:]
	}
	return out
}

// TestHelloRandom: the client random is read whatever the records' and
// the reads' sizes, reported once; not from other records or messages.
func TestHelloRandom(t *testing.T) {
	random := make([]byte, 32)
	for i := range random {
		random[i] = byte(100 + i)
	}
	for _, frag := range []int{1, 3, 7, 38, 512} {
		in := clientHelloRecords(random, frag)
		for _, step := range []int{1, 2, 5, 11, 64, len(in)} {
			t.Run(fmt.Sprintf("records of %d, reads of %d", frag, step), func(t *testing.T) {
				var h helloRandom
				done := 0
				for p := in; len(p) > 0; {
					k := min(step, len(p))
					if h.feed(p[:k]) {
						done++
					}
					p = p[k:]
				}
				if done != 1 || !bytes.Equal(h.random[:], random) {
					t.Fatalf("reported %d times, random % x", done, h.random)
				}
			})
		}
	}
	for name, in := range map[string][]byte{
		"alert":         {21, 3, 1, 0, 2, 2, 40},
		"not a hello":   append([]byte{22, 3, 1, 0, 40, 2}, make([]byte, 39)...),
		"plain request": []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n" + string(make([]byte, 40))),
	} {
		var h helloRandom
		if h.feed(in) {
			t.Errorf("%s: a random reported", name)
		}
	}
}

// TestKeyRouter: lines go to the handshake registered under their
// random, the others to none; two handshakes under one random get
// nothing; every line reaches the program's writer; nothing is kept
// once the handshakes are let go of.
func TestKeyRouter(t *testing.T) {
	var user bytes.Buffer
	kr := &keyRouter{user: &user}
	a, b, c := &handshake{}, &handshake{}, &handshake{}
	ra, rb := [32]byte{1}, [32]byte{2}
	kr.add(ra, a)
	kr.add(rb, b)
	kr.add(rb, c) // the same random again
	secret := bytes.Repeat([]byte{0xab}, 32)
	line := func(label string, r [32]byte) []byte {
		return fmt.Appendf(nil, "%s %x %x\n", label, r, secret)
	}
	lines := [][]byte{
		line(labelClient0, ra), line(labelServer0, ra), line("EXPORTER_SECRET", ra),
		line(labelClient0, rb), line(labelServer0, [32]byte{3}),
	}
	for _, l := range lines {
		if n, err := kr.Write(l); n != len(l) || err != nil {
			t.Fatalf("Write: %d, %v", n, err)
		}
	}
	if !bytes.Equal(a.clientSecret, secret) || !bytes.Equal(a.serverSecret, secret) || !a.postOn {
		t.Errorf("a: client % x, server % x", a.clientSecret, a.serverSecret)
	}
	if b.clientSecret != nil || c.clientSecret != nil {
		t.Errorf("a random registered twice routed its secrets")
	}
	if got := user.String(); got != string(bytes.Join(lines, nil)) {
		t.Errorf("the program's writer got %q", got)
	}
	kr.remove(ra)
	kr.remove(rb)
	if kr.routes() != 1 {
		t.Errorf("%d routes with one of rb's two left", kr.routes())
	}
	kr.remove(rb)
	if kr.routes() != 0 {
		t.Errorf("%d routes left", kr.routes())
	}
}
