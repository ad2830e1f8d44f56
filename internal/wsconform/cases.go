package wsconform

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Case is one entry of the table. IDs keep Autobahn|Testsuite's numbering;
// the descriptions, payloads and corpora are this package's own.
type Case struct {
	ID     string
	Desc   string // what the runner sends
	Expect string // what a conforming peer does
	Run    func(*T)
	pmd    *pmdSet // compression cases: the offers, or the mirror's answer
}

func (cs *Case) group() int { return groupOf(cs.ID) }

func groupOf(id string) int {
	g, _, _ := strings.Cut(id, ".")
	n, _ := strconv.Atoi(g)
	return n
}

var groupNames = map[int]string{
	1:  "framing",
	2:  "pings and pongs",
	3:  "reserved bits",
	4:  "opcodes",
	5:  "fragmentation",
	6:  "UTF-8 handling",
	7:  "close handling",
	8:  "masking (eddy's own)",
	9:  "limits and performance",
	10: "auto-fragmentation",
	12: "permessage-deflate: corpora",
	13: "permessage-deflate: parameters",
}

// Cases returns a copy of the table, in order.
func Cases() []Case { return append([]Case(nil), table...) }

var table = buildTable()

// Items the peer is expected to send.
func tx(s string) item         { return item{op: opText, data: []byte(s)} }
func txB(b []byte) item        { return item{op: opText, data: b} }
func bx(b []byte) item         { return item{op: opBinary, data: b} }
func px(b []byte) item         { return item{op: opPong, data: b} }
func rep(c byte, n int) []byte { return bytes.Repeat([]byte{c}, n) }

// A sender writes frames in some way: at once, a frame a write, or in
// small chops.
type sender func(c *conn, fs ...wf)

func atOnce(c *conn, fs ...wf) { c.send(fs...) }

// framePause is the pause between writes where a case sends frame by
// frame "with pauses": long enough for each to arrive alone.
const framePause = 20 * time.Millisecond

func frameByFrame(c *conn, fs ...wf) { c.sendEach(framePause, fs...) }
func octetWise(c *conn, fs ...wf)    { c.sendChopped(1, 0, fs...) }
func chops(n int) sender {
	return func(c *conn, fs ...wf) { c.sendChopped(n, 0, fs...) }
}

var (
	protoErr   = []int{1002}
	badPayload = []int{1007}
)

// echoCase: send the frames, expect the items, close normally.
func echoCase(s sender, fs []wf, want ...item) func(*T) {
	return func(t *T) {
		c := t.conn()
		s(c, fs...)
		n := 0
		if t.expect(c, &n, want...) {
			t.closeNormally(c, n)
		}
	}
}

// failCase: send the frames, expect the items prefix (optional: NON-STRICT
// if missing) and then the connection failed with one of codes.
func failCase(s sender, fs []wf, optional bool, codes []int, prefix ...item) func(*T) {
	return func(t *T) {
		c := t.conn()
		s(c, fs...)
		t.expectFail(c, 0, optional, codes, prefix...)
	}
}

type tb struct{ cases []Case }

func (b *tb) add(id, desc, expect string, run func(*T)) {
	b.cases = append(b.cases, Case{ID: id, Desc: desc, Expect: expect, Run: run})
}

func buildTable() []Case {
	b := &tb{}
	group1(b)
	group2(b)
	group3(b)
	group4(b)
	group5(b)
	group6(b)
	group7(b)
	group8(b)
	group9(b)
	group10(b)
	group12(b)
	group13(b)
	return b.cases
}

func group1(b *tb) {
	lengths := []int{0, 125, 126, 127, 128, 65535, 65536}
	for gi, kind := range []string{"text", "binary"} {
		for i, n := range lengths {
			id := fmt.Sprintf("1.%d.%d", gi+1, i+1)
			var f wf
			var it item
			if kind == "text" {
				p := rep('~', n)
				f, it = textB(p), txB(p)
			} else {
				p := rep(0xA5, n)
				f, it = binary_(p), bx(p)
			}
			b.add(id, fmt.Sprintf("a %s message of %d bytes in one frame", kind, n),
				"echoed as it was sent", echoCase(atOnce, []wf{f}, it))
		}
		id := fmt.Sprintf("1.%d.8", gi+1)
		p := rep('~', 65536)
		f, it := textB(p), txB(p)
		if kind == "binary" {
			p = rep(0xA5, 65536)
			f, it = binary_(p), bx(p)
		}
		b.add(id, fmt.Sprintf("a %s message of 65536 bytes, written in chops of 997 bytes", kind),
			"echoed as it was sent", echoCase(chops(997), []wf{f}, it))
	}
}

func group2(b *tb) {
	b.add("2.1", "a ping without payload", "a pong without payload",
		echoCase(atOnce, []wf{ping(nil)}, px(nil)))
	b.add("2.2", "a ping with a short text payload", "a pong with the same payload",
		echoCase(atOnce, []wf{ping([]byte("anyone home?"))}, px([]byte("anyone home?"))))
	bin := []byte{0x00, 0xFF, 0x80, 0x7F, 0xC3, 0x28, 0xFE, 0x01}
	b.add("2.3", "a ping with a binary payload that is not UTF-8", "a pong with the same payload",
		echoCase(atOnce, []wf{ping(bin)}, px(bin)))
	b.add("2.4", "a ping with 125 bytes of payload, the most a control frame may carry", "a pong with the same payload",
		echoCase(atOnce, []wf{ping(rep('p', 125))}, px(rep('p', 125))))
	b.add("2.5", "a ping with 126 bytes of payload (over the control frame limit)", "the connection failed (1002), no pong",
		failCase(atOnce, []wf{ping(rep('p', 126))}, false, protoErr))
	b.add("2.6", "a ping with 125 bytes of payload, written one byte a write", "a pong with the same payload",
		echoCase(octetWise, []wf{ping(rep('q', 125))}, px(rep('q', 125))))
	b.add("2.7", "an unsolicited pong without payload", "nothing: unsolicited pongs are ignored",
		echoCase(atOnce, []wf{pong(nil)}))
	b.add("2.8", "an unsolicited pong with a payload", "nothing: unsolicited pongs are ignored",
		echoCase(atOnce, []wf{pong([]byte("nobody asked"))}))
	b.add("2.9", "an unsolicited pong, then a ping", "a pong for the ping only",
		echoCase(atOnce, []wf{pong([]byte("nobody asked")), ping([]byte("ping 9"))}, px([]byte("ping 9"))))
	tenPings := func(s sender) func(*T) {
		return func(t *T) {
			c := t.conn()
			var fs []wf
			for i := range 10 {
				fs = append(fs, ping([]byte(fmt.Sprintf("ping number %d", i))))
			}
			s(c, fs...)
			last := []byte("ping number 9")
			c.wait(t.deadline, func() bool {
				return len(c.items) >= 10 || c.ended() || (len(c.items) > 0 && bytes.Equal(c.items[len(c.items)-1].data, last))
			})
			items, _, _, _ := c.snapshot()
			if len(items) < 10 && len(items) > 0 && bytes.Equal(items[len(items)-1].data, last) {
				// RFC 6455 5.5.3: a pong for the most recent ping only is permitted.
				t.set(NonStrict, "answered %d of 10 pings, the last among them (RFC 6455 5.5.3 permits)", len(items))
				t.closeNormally(c, len(items))
				return
			}
			var want []item
			for i := range 10 {
				want = append(want, px([]byte(fmt.Sprintf("ping number %d", i))))
			}
			n := 0
			if t.expect(c, &n, want...) {
				t.closeNormally(c, n)
			}
		}
	}
	b.add("2.10", "ten pings with distinct payloads, in one write", "ten pongs, in order", tenPings(atOnce))
	b.add("2.11", "ten pings with distinct payloads, written one byte a write", "ten pongs, in order", tenPings(octetWise))
}

func group3(b *tb) {
	b.add("3.1", "a text message with RSV = 1 and no extension negotiated", "the connection failed (1002)",
		failCase(atOnce, []wf{{fin: true, rsv: 1, op: opText, payload: []byte("reserved")}}, false, protoErr))
	bad := func(rsv, op byte, p string) wf { return wf{fin: true, rsv: rsv, op: op, payload: []byte(p)} }
	b.add("3.2", "a valid text message, a text message with RSV = 2, a ping; in one write",
		"the first echoed, then the connection failed (1002); no pong",
		failCase(atOnce, []wf{text("fine"), bad(2, opText, "reserved"), ping(nil)}, true, protoErr, tx("fine")))
	b.add("3.3", "a valid text message, a text message with RSV = 3, a ping; a frame a write",
		"the first echoed, then the connection failed (1002); no pong",
		failCase(frameByFrame, []wf{text("fine"), bad(3, opText, "reserved"), ping(nil)}, true, protoErr, tx("fine")))
	b.add("3.4", "a valid text message, a text message with RSV = 4, a ping; one byte a write",
		"the first echoed, then the connection failed (1002); no pong",
		failCase(octetWise, []wf{text("fine"), bad(4, opText, "reserved"), ping(nil)}, true, protoErr, tx("fine")))
	b.add("3.5", "a binary message with RSV = 5", "the connection failed (1002)",
		failCase(atOnce, []wf{{fin: true, rsv: 5, op: opBinary, payload: []byte{1, 2, 3}}}, false, protoErr))
	b.add("3.6", "a ping with RSV = 6", "the connection failed (1002), no pong",
		failCase(atOnce, []wf{bad(6, opPing, "ping")}, false, protoErr))
	b.add("3.7", "a close frame (1000) with RSV = 7", "the connection failed (1002)",
		failCase(atOnce, []wf{{fin: true, rsv: 7, op: opClose, payload: []byte{0x03, 0xE8}}}, false, protoErr))
}

func group4(b *tb) {
	for gi, ops := range [][]byte{{3, 4, 5, 6, 7}, {11, 12, 13, 14, 15}} {
		kind := "data"
		if gi == 1 {
			kind = "control"
		}
		for i, op := range ops {
			id := fmt.Sprintf("4.%d.%d", gi+1, i+1)
			f := wf{fin: true, op: op}
			if i%2 == 1 {
				f.payload = []byte("reserved opcode payload")
			}
			withPayload := map[bool]string{true: " with a payload", false: ""}[f.payload != nil]
			switch i {
			case 0, 1:
				b.add(id, fmt.Sprintf("a frame with the reserved %s opcode %d%s", kind, op, withPayload),
					"the connection failed (1002)", failCase(atOnce, []wf{f}, false, protoErr))
			default:
				how, s := "in one write", sender(atOnce)
				if i == 4 {
					how, s = "one byte a write", octetWise
				}
				b.add(id, fmt.Sprintf("a valid text message, a frame with the reserved %s opcode %d%s, a ping; %s", kind, op, withPayload, how),
					"the first echoed, then the connection failed (1002); no pong",
					failCase(s, []wf{text("fine"), f, ping(nil)}, true, protoErr, tx("fine")))
			}
		}
	}
}

func group5(b *tb) {
	f1, f2 := []byte("first half, "), []byte("second half")
	whole := append(append([]byte(nil), f1...), f2...)
	b.add("5.1", "a ping in two fragments", "the connection failed (1002): control frames are never fragmented",
		failCase(atOnce, []wf{frag(opPing, f1), cont(f2, true)}, false, protoErr))
	b.add("5.2", "a pong in two fragments", "the connection failed (1002)",
		failCase(atOnce, []wf{frag(opPong, f1), cont(f2, true)}, false, protoErr))
	two := []wf{frag(opText, f1), cont(f2, true)}
	b.add("5.3", "a text message in two fragments, in one write", "the message echoed whole",
		echoCase(atOnce, two, txB(whole)))
	b.add("5.4", "a text message in two fragments, a fragment a write with a pause", "the message echoed whole",
		echoCase(frameByFrame, two, txB(whole)))
	b.add("5.5", "a text message in two fragments, one byte a write", "the message echoed whole",
		echoCase(octetWise, two, txB(whole)))
	pp := []byte("between the fragments")
	withPing := []wf{frag(opText, f1), ping(pp), cont(f2, true)}
	b.add("5.6", "a text message in two fragments with a ping between them, in one write", "the pong, then the message echoed whole",
		echoCase(atOnce, withPing, px(pp), txB(whole)))
	b.add("5.7", "the same, a frame a write with a pause", "the pong, then the message echoed whole",
		echoCase(frameByFrame, withPing, px(pp), txB(whole)))
	b.add("5.8", "the same, one byte a write", "the pong, then the message echoed whole",
		echoCase(octetWise, withPing, px(pp), txB(whole)))
	after := text("after the orphan")
	for i, fin := range []bool{true, false} {
		orphan := []wf{cont([]byte("nothing to continue"), fin), after}
		for j, s := range []sender{atOnce, frameByFrame, octetWise} {
			how := []string{"in one write", "a frame a write", "one byte a write"}[j]
			id := fmt.Sprintf("5.%d", 9+3*i+j)
			b.add(id, fmt.Sprintf("a continuation frame (FIN = %v) with no message to continue, then a text message; %s", fin, how),
				"the connection failed (1002), no echo", failCase(s, orphan, false, protoErr))
		}
	}
	b.add("5.15", "a text message in two fragments, a continuation (FIN = false) with nothing to continue, another continuation, a text message",
		"the first message echoed, then the connection failed (1002)",
		failCase(atOnce, []wf{frag(opText, f1), cont(f2, true), cont([]byte("orphan"), false), cont([]byte("orphan"), true), after},
			false, protoErr, txB(whole)))
	for i, fin := range []bool{false, true} {
		var fs []wf
		for range 2 {
			fs = append(fs, cont([]byte("orphan"), fin), frag(opText, f1), cont(f2, true))
		}
		b.add(fmt.Sprintf("5.%d", 16+i), fmt.Sprintf("twice: a continuation (FIN = %v) with nothing to continue, then a text message in two fragments", fin),
			"the connection failed (1002) at the first frame, no echo", failCase(atOnce, fs, false, protoErr))
	}
	b.add("5.18", "a text message in two fragments whose second frame has the text opcode again", "the connection failed (1002), no echo",
		failCase(atOnce, []wf{frag(opText, f1), text(string(f2))}, false, protoErr))
	fiveFrags := func(s sender) func(*T) {
		return func(t *T) {
			c := t.conn()
			parts := []string{"one ", "two ", "three ", "four ", "five"}
			n := 0
			for i, p := range parts {
				f := cont([]byte(p), i == 4)
				if i == 0 {
					f.op = opText
				}
				s(c, f)
				if i == 1 || i == 3 {
					pl := []byte(fmt.Sprintf("ping after fragment %d", i+1))
					s(c, ping(pl))
					// The pong must come while the message is still
					// incomplete: wait for it before the next fragment.
					if !c.wait(time.Now().Add(2*time.Second), func() bool { return len(c.items) > n || c.ended() }) {
						t.set(NonStrict, "no pong within 2 s for the ping after fragment %d, while the message was incomplete", i+1)
					}
					if !t.expect(c, &n, px(pl)) {
						return
					}
				}
			}
			if t.expect(c, &n, tx(strings.Join(parts, ""))) {
				t.closeNormally(c, n)
			}
		}
	}
	b.add("5.19", "a text message in five fragments, a ping after the second and the fourth, each pong awaited before the next fragment",
		"each pong while the message is incomplete, then the message echoed whole", fiveFrags(atOnce))
	b.add("5.20", "the same, every frame written one byte a write",
		"each pong while the message is incomplete, then the message echoed whole", fiveFrags(octetWise))
}

// utf8Seq is a sample for group 6.
type utf8Seq struct {
	desc string
	b    []byte
}

func cp(r ...rune) []byte { return []byte(string(r)) }

func hexs(b ...byte) []byte { return b }

func group6(b *tb) {
	b.add("6.1.1", "an empty text message", "echoed empty", echoCase(atOnce, []wf{text("")}, tx("")))
	b.add("6.1.2", "a text message of three empty fragments", "echoed as one empty message",
		echoCase(atOnce, []wf{frag(opText, nil), cont(nil, false), cont(nil, true)}, tx("")))
	b.add("6.1.3", "a text message of three fragments, only the middle one with a payload", "echoed whole",
		echoCase(atOnce, []wf{frag(opText, nil), cont([]byte("the middle"), false), cont(nil, true)}, tx("the middle")))

	sample := []byte("Grüße, Ελλάδα, 日本, 🎉 and ASCII")
	b.add("6.2.1", "a valid UTF-8 text (2-, 3- and 4-byte sequences) in one frame", "echoed", validSeq(sample, modeWhole))
	b.add("6.2.2", "the same text in two fragments split at a code point boundary", "echoed whole", func(t *T) {
		c := t.conn()
		k := bytes.IndexRune(sample, '日')
		c.send(frag(opText, sample[:k]), cont(sample[k:], true))
		n := 0
		if t.expect(c, &n, txB(sample)) {
			t.closeNormally(c, n)
		}
	})
	b.add("6.2.3", "the same text in two fragments, once for every split point, inside code points too", "each echoed whole", validSeq(sample, modeSplits))
	b.add("6.2.4", "the same text one byte a fragment", "echoed whole", validSeq(sample, modeBytes))

	bad := []byte("valid start, then \xf4\x90\x80\x80 past U+10FFFF, then more")
	b.add("6.3.1", "a text message with an invalid sequence in the middle, in one frame", "the connection failed (1007)",
		failCase(atOnce, []wf{textB(bad)}, false, badPayload))
	b.add("6.3.2", "the same, one byte a fragment", "the connection failed (1007)", func(t *T) {
		c := t.conn()
		c.send(byteFrags(bad)...)
		t.expectFail(c, 0, false, badPayload)
	})
	group6FailFast(b)

	samples := []string{
		"Ünïcödé in Latin-1 range: ça, ñ, ß, ø",
		"Кириллица и ελληνικά",
		"中文, 日本語, 한국어",
		"Symbols: € ∑ √ ∞ ≠ ♥ ✓",
		"Astral: 𝄞 𝔘𝔫𝔦 😀 🀄",
	}
	for i, s := range samples {
		b.add(fmt.Sprintf("6.5.%d", i+1), fmt.Sprintf("valid UTF-8 text %q", s), "echoed whole, in one frame and split at every point",
			validSeq([]byte(s), modeAll))
	}
	word := []byte("z€ñ𝄞a") // 1+3+2+4+1 = 11 bytes
	for i := 1; i <= len(word); i++ {
		p := word[:i]
		id := fmt.Sprintf("6.6.%d", i)
		if utf8.Valid(p) {
			b.add(id, fmt.Sprintf("the first %d bytes of %q: valid", i, word), "echoed", validSeq(p, modeAll))
		} else {
			b.add(id, fmt.Sprintf("the first %d bytes of %q: cut inside a code point", i, word), "the connection failed (1007)", invalidSeq(p))
		}
	}
	for _, g := range utf8Groups() {
		for i, s := range g.seqs {
			id := fmt.Sprintf("6.%d.%d", g.n, i+1)
			if utf8.Valid(s.b) {
				b.add(id, g.desc+": "+s.desc, "echoed whole, in one frame and split at every point", validSeq(s.b, modeAll))
			} else {
				b.add(id, g.desc+": "+s.desc, "the connection failed (1007), in one frame and split at every point", invalidSeq(s.b))
			}
		}
	}
}

type utf8Group struct {
	n    int
	desc string
	seqs []utf8Seq
}

// utf8Groups is this package's list of boundary, malformed and special
// sequences, in the order of Markus Kuhn's classic stress test (which
// Autobahn's group 6 follows), each wrapped in its own words.
func utf8Groups() []utf8Group {
	s := func(desc string, b []byte) utf8Seq { return utf8Seq{desc, append([]byte("<"), append(b, '>')...)} }
	seqs := func(desc string, bs ...[]byte) []utf8Seq {
		var out []utf8Seq
		for _, x := range bs {
			out = append(out, s(fmt.Sprintf("%s % x", desc, x), x))
		}
		return out
	}
	var conts []byte
	for c := byte(0x80); c <= 0xBF; c++ {
		conts = append(conts, c)
	}
	lonely := func(lo, hi byte) []byte {
		var out []byte
		for c := lo; ; c++ {
			out = append(out, c, ' ')
			if c == hi {
				break
			}
		}
		return out
	}
	truncated := [][]byte{
		hexs(0xC0), hexs(0xE0, 0x80), hexs(0xF0, 0x80, 0x80), hexs(0xF8, 0x80, 0x80, 0x80), hexs(0xFC, 0x80, 0x80, 0x80, 0x80),
		hexs(0xDF), hexs(0xEF, 0xBF), hexs(0xF7, 0xBF, 0xBF), hexs(0xFB, 0xBF, 0xBF, 0xBF), hexs(0xFD, 0xBF, 0xBF, 0xBF, 0xBF),
	}
	var noncharacters [][]byte
	noncharacters = append(noncharacters, cp(0xFFFE), cp(0xFFFF))
	for plane := rune(1); plane <= 16; plane++ {
		noncharacters = append(noncharacters, cp(plane<<16|0xFFFE), cp(plane<<16|0xFFFF))
	}
	surrogate := func(hi, lo int) []byte {
		enc := func(x int) []byte { return hexs(0xED, byte(0x80|(x>>6)&0x3F), byte(0x80|x&0x3F)) }
		out := enc(hi)
		if lo != 0 {
			out = append(out, enc(lo)...)
		}
		return out
	}
	return []utf8Group{
		{7, "the first code point of each sequence length", seqs("code point", cp(0x0), cp(0x80), cp(0x800), cp(0x10000))},
		{8, "the first 5- and 6-byte sequences (no longer UTF-8)", seqs("bytes", hexs(0xF8, 0x88, 0x80, 0x80, 0x80), hexs(0xFC, 0x84, 0x80, 0x80, 0x80, 0x80))},
		{9, "the last code point of each sequence length", seqs("code point", cp(0x7F), cp(0x7FF), cp(0xFFFF), cp(0x10FFFF))},
		{10, "the last 4-, 5- and 6-byte patterns, past U+10FFFF", seqs("bytes", hexs(0xF7, 0xBF, 0xBF, 0xBF), hexs(0xFB, 0xBF, 0xBF, 0xBF, 0xBF), hexs(0xFD, 0xBF, 0xBF, 0xBF, 0xBF, 0xBF))},
		{11, "other boundaries", append(seqs("valid", cp(0xD7FF), cp(0xE000), cp(0xFFFD), cp(0x10FFFF)), s("U+110000, past the last code point: f4 90 80 80", hexs(0xF4, 0x90, 0x80, 0x80)))},
		{12, "unexpected continuation bytes", seqs("bytes", hexs(0x80), hexs(0xBF), hexs(0x80, 0xBF), hexs(0x80, 0xBF, 0x80), hexs(0x80, 0xBF, 0x80, 0xBF), hexs(0x80, 0xBF, 0x80, 0xBF, 0x80), hexs(0x80, 0xBF, 0x80, 0xBF, 0x80, 0xBF), conts)},
		{13, "lead bytes alone, each followed by a space", seqs("bytes", lonely(0xC0, 0xDF), lonely(0xE0, 0xEF), lonely(0xF0, 0xF7), lonely(0xF8, 0xFB), lonely(0xFC, 0xFD))},
		{14, "sequences missing their last byte", seqs("bytes", truncated...)},
		{15, "all the truncated sequences of 6.14 in a row", seqs("bytes", bytes.Join(truncated, nil))},
		{16, "bytes that never occur in UTF-8", seqs("bytes", hexs(0xFE), hexs(0xFF), hexs(0xFE, 0xFE, 0xFF, 0xFF))},
		{17, "overlong encodings of '/'", seqs("bytes", hexs(0xC0, 0xAF), hexs(0xE0, 0x80, 0xAF), hexs(0xF0, 0x80, 0x80, 0xAF), hexs(0xF8, 0x80, 0x80, 0x80, 0xAF), hexs(0xFC, 0x80, 0x80, 0x80, 0x80, 0xAF))},
		{18, "the longest overlong encodings", seqs("bytes", hexs(0xC1, 0xBF), hexs(0xE0, 0x9F, 0xBF), hexs(0xF0, 0x8F, 0xBF, 0xBF), hexs(0xF8, 0x87, 0xBF, 0xBF, 0xBF), hexs(0xFC, 0x83, 0xBF, 0xBF, 0xBF, 0xBF))},
		{19, "overlong encodings of NUL", seqs("bytes", hexs(0xC0, 0x80), hexs(0xE0, 0x80, 0x80), hexs(0xF0, 0x80, 0x80, 0x80), hexs(0xF8, 0x80, 0x80, 0x80, 0x80), hexs(0xFC, 0x80, 0x80, 0x80, 0x80, 0x80))},
		{20, "lone UTF-16 surrogates", seqs("bytes", surrogate(0xD800, 0), surrogate(0xDB7F, 0), surrogate(0xDB80, 0), surrogate(0xDBFF, 0), surrogate(0xDC00, 0), surrogate(0xDF80, 0), surrogate(0xDFFF, 0))},
		{21, "UTF-16 surrogate pairs encoded as two sequences", seqs("bytes", surrogate(0xD800, 0xDC00), surrogate(0xD800, 0xDFFF), surrogate(0xDB7F, 0xDC00), surrogate(0xDB7F, 0xDFFF), surrogate(0xDB80, 0xDC00), surrogate(0xDB80, 0xDFFF), surrogate(0xDBFF, 0xDC00), surrogate(0xDBFF, 0xDFFF))},
		{22, "noncharacters (valid UTF-8)", seqs("code point", noncharacters...)},
		{23, "special code points (valid UTF-8)", seqs("code point", cp(0xFFFD), cp(0xFEFF), cp(0xFDD0), cp(0xFDEF), cp(0x2028), cp(0x200B), cp(0xE0001))},
	}
}

// Ways validSeq sends a valid text.
const (
	modeWhole  = 1 << iota // one frame
	modeSplits             // two fragments, once per split point
	modeBytes              // one byte a fragment
	modeAll    = modeWhole | modeSplits | modeBytes
)

func byteFrags(p []byte) []wf {
	var fs []wf
	for i := range p {
		f := cont(p[i:i+1], i == len(p)-1)
		if i == 0 {
			f.op = opText
		}
		fs = append(fs, f)
	}
	if len(p) == 0 {
		fs = append(fs, text(""))
	}
	return fs
}

// validSeq sends a valid text as the mode says, on one connection, and
// expects every message echoed.
func validSeq(p []byte, mode int) func(*T) {
	return func(t *T) {
		c := t.conn()
		n := 0
		if mode&modeWhole != 0 {
			c.send(textB(p))
			if !t.expect(c, &n, txB(p)) {
				return
			}
		}
		if mode&modeSplits != 0 {
			var fs []wf
			var want []item
			for k := 1; k < len(p); k++ {
				fs = append(fs, frag(opText, p[:k]), cont(p[k:], true))
				want = append(want, txB(p))
			}
			c.send(fs...)
			if !t.expect(c, &n, want...) {
				return
			}
		}
		if mode&modeBytes != 0 {
			c.send(byteFrags(p)...)
			if !t.expect(c, &n, txB(p)) {
				return
			}
		}
		t.closeNormally(c, n)
	}
}

// invalidSeq expects a fail (1007) for the invalid text p sent in one
// frame and, on a connection each, split in two fragments at every point
// and one byte a fragment.
func invalidSeq(p []byte) func(*T) {
	return func(t *T) {
		c := t.conn()
		c.send(textB(p))
		t.expectFail(c, 0, false, badPayload)
		if !t.canReopen() || t.grade == Failed {
			return
		}
		for k := 1; k < len(p) && t.grade != Failed; k++ {
			c := t.conn()
			c.send(frag(opText, p[:k]), cont(p[k:], true))
			t.expectFail(c, 0, false, badPayload)
			if t.grade == Failed {
				t.note("split after byte %d", k)
			}
		}
		if t.grade != Failed {
			c := t.conn()
			c.send(byteFrags(p)...)
			t.expectFail(c, 0, false, badPayload)
			if t.grade == Failed {
				t.note("one byte a fragment")
			}
		}
		t.note("in one frame and split at each of %d points", len(p)-1)
	}
}

// failFastWindow: how long a case waits for the fail an invalid sequence
// must bring before it sends the rest of the message.
const failFastWindow = 500 * time.Millisecond

func group6FailFast(b *tb) {
	valid := []byte("déjà vu, ")
	invalid := []byte("\xf4\x90\x80\x80") // past U+10FFFF: invalid at its second byte
	tail := []byte(", the end")
	// fragments: the fail must come after the second fragment and before
	// the third is sent.
	fragsCase := func(f1, f2 []byte) func(*T) {
		return func(t *T) {
			c := t.conn()
			c.send(frag(opText, f1), cont(f2, false))
			if t.failsWithin(c, failFastWindow) {
				t.expectFail(c, 0, false, badPayload)
				return
			}
			c.send(cont(tail, true))
			if t.failsWithin(c, 2*time.Second) {
				t.set(NonStrict, "failed only when the message was complete, not at the invalid fragment")
			}
			t.expectFail(c, 0, false, badPayload)
		}
	}
	b.add("6.4.1", "a text message in three fragments, the second invalid (past U+10FFFF); the third only sent if the connection is still up after 0.5 s",
		"the connection failed (1007) before the third fragment", fragsCase(valid, append(append([]byte("more "), invalid...), " rest"...)))
	b.add("6.4.2", "a text message in three fragments, the first ending with a lead byte f4 that the second's first byte (0x90) makes invalid",
		"the connection failed (1007) before the third fragment",
		fragsCase(append(append([]byte(nil), valid...), 0xF4), []byte("\x90\x80\x80 rest")))
	// chops: one frame whose payload arrives in three writes.
	chopsCase := func(c1, c2 []byte) func(*T) {
		return func(t *T) {
			c := t.conn()
			payload := append(append(append([]byte(nil), c1...), c2...), tail...)
			enc := c.encode(textB(payload))
			hdr := len(enc) - len(payload)
			c.write(enc[:hdr+len(c1)], 0, 0)
			c.write(enc[hdr+len(c1):hdr+len(c1)+len(c2)], 0, 0)
			if t.failsWithin(c, failFastWindow) {
				t.expectFail(c, 0, false, badPayload)
				return
			}
			c.write(enc[hdr+len(c1)+len(c2):], 0, 0)
			if t.failsWithin(c, 2*time.Second) {
				t.set(NonStrict, "failed only when the frame was complete, not at the invalid bytes")
			}
			t.expectFail(c, 0, false, badPayload)
		}
	}
	b.add("6.4.3", "one text frame written in three parts, the second holding an invalid sequence; the third only sent if the connection is still up after 0.5 s",
		"the connection failed (1007) before the third part", chopsCase(valid, append(append([]byte("x"), invalid...), 'y')))
	b.add("6.4.4", "one text frame written in three parts, the first ending with the lead byte f4 that the second's first byte makes invalid",
		"the connection failed (1007) before the third part", chopsCase(append(append([]byte(nil), valid...), 0xF4), []byte("\x90\x80\x80")))
}

func group7(b *tb) {
	b.add("7.1.1", "a text message, then a close (1000)", "the echo, then the close answered (1000)", func(t *T) {
		c := t.conn()
		c.send(text("last words"))
		n := 0
		if t.expect(c, &n, tx("last words")) {
			t.closeNormally(c, n)
		}
	})
	afterClose := func(extra ...wf) func(*T) {
		return func(t *T) { t.closeNormally(t.conn(), 0, extra...) }
	}
	b.add("7.1.2", "a close (1000), then a second close", "the first answered (1000); the second ignored", afterClose(closeF(1000, "")))
	b.add("7.1.3", "a close (1000), then a ping", "the close answered; no pong", afterClose(ping([]byte("too late"))))
	b.add("7.1.4", "a close (1000), then a text message", "the close answered; no echo", afterClose(text("too late")))
	b.add("7.1.5", "the first fragment of a text message, a close, then the last fragment", "the close answered; no echo", func(t *T) {
		c := t.conn()
		c.send(frag(opText, []byte("half a ")))
		t.closeNormally(c, 0, cont([]byte("message"), true))
	})
	b.add("7.1.6", "a large text message, then a close and a ping, in one write", "informational: whether the echo came before the close answer", func(t *T) {
		c := t.conn()
		size := 256 << 10
		if t.short {
			size = 64 << 10
		}
		big := rep('L', size)
		c.send(textB(big), closeF(1000, ""), ping([]byte("too late")))
		c.wait(t.deadline, c.ended)
		items, ci, _, _ := c.snapshot()
		switch {
		case ci == nil:
			t.failf("no close answer")
		case len(items) == 1 && bytes.Equal(items[0].data, big):
			t.set(Informational, "echoed the %d-byte message before answering the close (%s)", size, ci)
		case len(items) == 0:
			t.set(Informational, "answered the close (%s) without echoing the message", ci)
		default:
			t.failf("sent %d items, the first %s", len(items), items[0])
		}
		t.awaitTCPClose(c)
	})
	closeCase := func(cf wf, codes ...int) func(*T) {
		return func(t *T) {
			c := t.conn()
			ci := t.closeWith(c, 0, cf, codes)
			if ci != nil {
				t.note("answered with %s", ci)
			}
		}
	}
	b.add("7.3.1", "a close without payload", "a close answer (without a code, or 1000)", closeCase(closeRaw(nil), 1000))
	b.add("7.3.2", "a close with a one-byte payload", "the connection failed (1002)",
		failCase(atOnce, []wf{closeRaw([]byte{0x03})}, false, protoErr))
	b.add("7.3.3", "a close (1000) without a reason", "a close answer (1000)", closeCase(closeF(1000, ""), 1000))
	b.add("7.3.4", "a close (1000) with a short reason", "a close answer (1000)", closeCase(closeF(1000, "done here"), 1000))
	b.add("7.3.5", "a close (1000) with a reason of 123 bytes, the longest that fits", "a close answer (1000)",
		closeCase(closeF(1000, strings.Repeat("r", 123)), 1000))
	b.add("7.3.6", "a close (1000) with a reason of 124 bytes: a control frame of 126 bytes", "the connection failed (1002)",
		failCase(atOnce, []wf{closeF(1000, strings.Repeat("r", 124))}, false, protoErr))
	b.add("7.5.1", "a close (1000) whose reason is not UTF-8", "the connection failed (1007 or 1002)",
		failCase(atOnce, []wf{closeF(1000, "ok \xed\xa0\x80 not")}, false, []int{1007, 1002}))
	valid := []int{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999}
	for i, code := range valid {
		b.add(fmt.Sprintf("7.7.%d", i+1), fmt.Sprintf("a close with the valid code %d", code), fmt.Sprintf("a close answer (%d or 1000)", code),
			closeCase(closeF(code, ""), code, 1000))
	}
	invalid := []int{0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999}
	for i, code := range invalid {
		b.add(fmt.Sprintf("7.9.%d", i+1), fmt.Sprintf("a close with the code %d, which may not be sent", code), "the connection failed (1002)",
			failCase(atOnce, []wf{closeF(code, "")}, false, protoErr))
	}
	for i, code := range []int{5000, 65535} {
		b.add(fmt.Sprintf("7.13.%d", i+1), fmt.Sprintf("a close with the code %d, beyond the defined ranges", code), "informational: what the peer answers", func(t *T) {
			c := t.conn()
			c.send(closeF(code, ""))
			c.wait(t.deadline, c.ended)
			_, ci, eof, _ := c.snapshot()
			switch {
			case ci != nil:
				t.set(Informational, "answered with %s", ci)
			case eof != nil:
				t.set(Informational, "dropped the connection")
			default:
				t.failf("no answer")
			}
			t.awaitTCPClose(c)
		})
	}
}

// group8 is not Autobahn's (which has no group 8): frames masked the
// wrong way for their side (RFC 6455 5.1, 5.3), and a zero mask key.
func group8(b *tb) {
	wrong := func(f wf) wf { f.badMask = true; return f }
	b.add("8.1", "a text frame masked the wrong way: unmasked from a client, masked from a server", "the connection failed (1002), no echo",
		failCase(atOnce, []wf{wrong(text("wrong mask"))}, false, protoErr))
	b.add("8.2", "a ping masked the wrong way", "the connection failed (1002), no pong",
		failCase(atOnce, []wf{wrong(ping([]byte("wrong mask")))}, false, protoErr))
	b.add("8.3", "a valid text message, then a binary frame masked the wrong way, then a ping", "the first echoed, then the connection failed (1002); no pong",
		failCase(atOnce, []wf{text("fine"), wrong(binary_([]byte{1, 2, 3})), ping(nil)}, true, protoErr, tx("fine")))
	b.add("8.4", "a close (1000) masked the wrong way", "the connection failed (1002)",
		failCase(atOnce, []wf{wrong(closeF(1000, ""))}, false, protoErr))
	zero := text("zero key")
	zero.zeroKey = true
	b.add("8.5", "a text message masked with the key 00 00 00 00 (a client's; a server's frames carry no key)", "echoed",
		echoCase(atOnce, []wf{zero}, tx("zero key")))
}

// textOf returns n bytes of ASCII text.
func textOf(n int) []byte {
	const pat = "The quick onyx goblin jumps over the lazy dwarf. "
	b := bytes.Repeat([]byte(pat), n/len(pat)+1)
	return b[:n]
}

func binOf(n int) []byte {
	b := make([]byte, n)
	r := rng(2463534242)
	for i := range b {
		b[i] = byte(r.next() >> 32)
	}
	return b
}

func group9(b *tb) {
	scale := func(t *T, n int) int {
		if t.short {
			return n / 16
		}
		return n
	}
	kinds := []struct {
		name string
		op   byte
		gen  func(int) []byte
	}{{"text", opText, textOf}, {"binary", opBinary, binOf}}
	sizes := []int{64 << 10, 256 << 10, 1 << 20, 4 << 20, 8 << 20, 16 << 20}
	for ki, k := range kinds {
		for i, size := range sizes {
			b.add(fmt.Sprintf("9.%d.%d", 1+ki, i+1), fmt.Sprintf("a %s message of %s in one frame (a 16th under -short)", k.name, sizeName(size)), "echoed",
				func(t *T) { bigEcho(t, k.op, k.gen(scale(t, size)), 0, 0) })
		}
	}
	fragSizes := []int{64, 256, 1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20}
	for ki, k := range kinds {
		for i, fs := range fragSizes {
			b.add(fmt.Sprintf("9.%d.%d", 3+ki, i+1), fmt.Sprintf("a %s message of 4 MiB (256 KiB under -short) in frames of %s", k.name, sizeName(fs)), "echoed",
				func(t *T) { bigEcho(t, k.op, k.gen(scale(t, 4<<20)), fs, 0) })
		}
	}
	chopSizes := []int{64, 128, 256, 512, 1024, 2048}
	for ki, k := range kinds {
		for i, ch := range chopSizes {
			b.add(fmt.Sprintf("9.%d.%d", 5+ki, i+1), fmt.Sprintf("a %s message of 1 MiB (64 KiB under -short) written in chops of %d bytes", k.name, ch), "echoed",
				func(t *T) { bigEcho(t, k.op, k.gen(scale(t, 1<<20)), 0, ch) })
		}
	}
	rtSizes := []int{0, 16, 64, 256, 1024, 4096}
	for ki, k := range kinds {
		for i, size := range rtSizes {
			b.add(fmt.Sprintf("9.%d.%d", 7+ki, i+1), fmt.Sprintf("1000 %s messages of %d bytes (100 under -short), each awaited before the next", k.name, size), "each echoed",
				func(t *T) {
					count := 1000
					if t.short {
						count = 100
					}
					c := t.conn()
					p := k.gen(size)
					n := 0
					start := time.Now()
					for range count {
						c.send(wf{fin: true, op: k.op, payload: p})
						if !t.expect(c, &n, item{op: k.op, data: p}) {
							return
						}
					}
					t.note("%d round trips in %s", count, since(start))
					t.closeNormally(c, n)
				})
		}
	}
}

func sizeName(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// bigEcho sends one message (in frames of fragSize, written in chops of
// chop bytes) and expects it back.
func bigEcho(t *T, op byte, p []byte, fragSize, chop int) {
	c := t.conn()
	start := time.Now()
	var fs []wf
	if fragSize <= 0 || fragSize >= len(p) {
		fs = []wf{{fin: true, op: op, payload: p}}
	} else {
		for i := 0; i < len(p); i += fragSize {
			f := cont(p[i:min(i+fragSize, len(p))], i+fragSize >= len(p))
			if i == 0 {
				f.op = op
			}
			fs = append(fs, f)
		}
	}
	c.sendChopped(chop, 0, fs...)
	n := 0
	if t.expect(c, &n, item{op: op, data: p}) {
		t.note("%s echoed in %s", sizeName(len(p)), since(start))
		t.closeNormally(c, n)
	}
}

func group10(b *tb) {
	p := textOf(65536)
	b.add("10.1.1", "a text message of 65536 bytes in frames of 1300 bytes", "echoed whole (in frames of any size)",
		func(t *T) {
			c := t.conn()
			c.sendMessage(opText, p, 1300)
			n := 0
			if t.expect(c, &n, txB(p)) {
				t.closeNormally(c, n)
			}
		})
}
