package wsconform

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTableCounts(t *testing.T) {
	per := map[int]int{}
	seen := map[string]bool{}
	for _, cs := range Cases() {
		if seen[cs.ID] {
			t.Errorf("case %s twice", cs.ID)
		}
		seen[cs.ID] = true
		per[cs.group()]++
		if cs.Desc == "" || cs.Expect == "" || cs.Run == nil {
			t.Errorf("case %s incomplete", cs.ID)
		}
	}
	// Autobahn's counts, group by group.
	want := map[int]int{1: 16, 2: 11, 3: 7, 4: 10, 5: 20, 6: 145, 7: 37, 9: 54, 10: 1, 12: 90, 13: 126}
	if per[8] != 5 {
		t.Errorf("group 8 (eddy's own): %d cases, want 5", per[8])
	}
	total, plain := 0, 0
	for g, n := range want {
		if per[g] != n {
			t.Errorf("group %d: %d cases, want %d", g, per[g], n)
		}
		total += per[g]
		if g < 12 {
			plain += per[g]
		}
	}
	if total != 517 || plain != 301 {
		t.Errorf("%d cases, %d without compression; want 517 and 301", total, plain)
	}
}

func TestUTF8FailAt(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
	}{
		{"", -1}, {"abc", -1}, {"é", -1}, {"\xc3", -1}, {"\xf0\x9f\x8e", -1},
		{"\xc0\xaf", 0}, {"a\xed\xa0\x80", 2}, {"\xf4\x90\x80\x80", 1}, {"\xe0\x80", 1},
		{"\x80", 0}, {"\xfe", 0}, {"ab\xf4\x8f\xbf\xbf", -1}, {"\xce\xba\xc3(", 3},
	} {
		if got := utf8FailAt([]byte(tc.in)); got != tc.want {
			t.Errorf("utf8FailAt(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
	// Against the standard library: a complete string is valid exactly
	// when no byte fails and it does not end inside a code point.
	for _, g := range utf8Groups() {
		for _, s := range g.seqs {
			fails := utf8FailAt(s.b) >= 0
			if fails == utf8.Valid(s.b) {
				t.Errorf("6.%d %s: utf8FailAt %d, utf8.Valid %v", g.n, s.desc, utf8FailAt(s.b), utf8.Valid(s.b))
			}
		}
	}
}

func TestMaskBytes(t *testing.T) {
	key := [4]byte{1, 2, 3, 4}
	for n := range 40 {
		for start := range 4 {
			b := bytes.Repeat([]byte{0x55}, n)
			maskBytes(b, key, start)
			for i := range b {
				if b[i] != 0x55^key[(start+i)%4] {
					t.Fatalf("n=%d start=%d: byte %d wrong", n, start, i)
				}
			}
		}
	}
}

func TestNegotiateClient(t *testing.T) {
	parse := func(s string) []ext {
		e, err := parseExtensions([]string{s})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	for _, tc := range []struct{ offers, answer, want string }{
		{"permessage-deflate", "permessage-deflate", "ok"},
		{"permessage-deflate", "permessage-deflate; server_no_context_takeover", "ok"},
		{"permessage-deflate", "permessage-deflate; client_max_window_bits=10", "err"},
		{"permessage-deflate; client_max_window_bits", "permessage-deflate; client_max_window_bits=10", "ok"},
		{"permessage-deflate; server_max_window_bits=10", "permessage-deflate", "note"},
		{"permessage-deflate; server_max_window_bits=10", "permessage-deflate; server_max_window_bits=12", "err"},
		{"permessage-deflate; server_max_window_bits=10, permessage-deflate", "permessage-deflate", "ok"},
		{"permessage-deflate", "permessage-deflate; foo", "err"},
		{"permessage-deflate", "permessage-deflate; server_max_window_bits=7", "err"},
	} {
		_, note, err := negotiateClient(parse(tc.offers), parse(tc.answer))
		got := "ok"
		if err != nil {
			got = "err"
		} else if note != "" {
			got = "note"
		}
		if got != tc.want {
			t.Errorf("offers %q, answer %q: %s (%v %s), want %s", tc.offers, tc.answer, got, err, note, tc.want)
		}
	}
}

func TestDeflateRoundTrip(t *testing.T) {
	for _, bits := range []int{15, 9} {
		for _, noCtx := range []bool{false, true} {
			tx := &deflateState{sendBits: bits, sendNoCtx: noCtx}
			rx := &deflateState{recvNoCtx: noCtx}
			for i := range 20 {
				msg := []byte(strings.Repeat(fmt.Sprintf("message %d ", i%3), i*7))
				got, err := rx.decompress(tx.compress(msg))
				if err != nil || !bytes.Equal(got, msg) {
					t.Fatalf("bits %d noCtx %v message %d: %v", bits, noCtx, i, err)
				}
			}
		}
	}
}

func TestMatchIDs(t *testing.T) {
	m := MatchIDs("1,2.1,6.4.*,-1.2")
	for id, want := range map[string]bool{"1.1.1": true, "1.2.1": false, "2.1": true, "2.10": false, "6.4.3": true, "6.5.1": false, "12.1.1": false} {
		if m(id) != want {
			t.Errorf("%s: %v, want %v", id, !want, want)
		}
	}
}

func TestCorpora(t *testing.T) {
	for i, c := range corpora {
		if c.op == opText && !utf8.Valid(corpusBytes(i)) {
			t.Errorf("corpus %q is not UTF-8", c.name)
		}
		for _, size := range compSizes {
			for j, m := range compMessages(i, c.op, size, 50) {
				if c.op == opText && !utf8.Valid(m) || len(m) < size-6 {
					t.Fatalf("corpus %q size %d message %d: %d bytes, valid %v", c.name, size, j, len(m), utf8.Valid(m))
				}
			}
		}
	}
}

func TestDeflateReach(t *testing.T) {
	block := binOf(2000)
	msg := append(append(append([]byte(nil), block...), textOf(3000)...), block...)
	for _, tc := range []struct {
		bits int
		min  int
		max  int
	}{{15, 4000, 32 << 10}, {9, 0, 0}} {
		d := &deflateState{sendBits: tc.bits}
		reach, err := deflateReach(append(d.compress(msg), 0, 0, 0xff, 0xff))
		if err != nil || reach < tc.min || reach > tc.max {
			t.Errorf("window %d: reach %d (%v), want %d to %d", tc.bits, reach, err, tc.min, tc.max)
		}
	}
	// Every corpus, through the default compressor: parsed to the end.
	for i := range corpora {
		d := &deflateState{sendBits: 15}
		for _, m := range compMessages(i, opBinary, 65536, 3) {
			if _, err := deflateReach(append(d.compress(m), 0, 0, 0xff, 0xff)); err != nil {
				t.Errorf("corpus %d: %v", i, err)
			}
		}
	}
	// A peer that declared 9 bits and reaches further is caught.
	tx := &deflateState{sendBits: 15, sendNoCtx: true}
	rx := &deflateState{recvNoCtx: true, recvBits: 9}
	if _, err := rx.decompress(tx.compress(msg)); err == nil {
		t.Error("a 4000-byte reach passed a 512-byte window")
	}
}
