package wsconform

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"
)

// The compression groups' corpora are generated here, deterministically:
// Autobahn's files cannot be copied, and generated data of the same kinds
// (structured text, a sparse bitmap, prose in several scripts, markup,
// a mix of incompressible and repetitive binary) exercises the same paths.

type corpus struct {
	name string
	op   byte
	gen  func() []byte
}

// rng is a small deterministic generator (xorshift64*).
type rng uint64

func (r *rng) next() uint64 {
	x := uint64(*r)
	x ^= x >> 12
	x ^= x << 25
	x ^= x >> 27
	*r = rng(x)
	return x * 2685821657736338717
}

func (r *rng) intn(n int) int { return int(r.next() % uint64(n)) }

const corpusSize = 512 << 10

var vocabulary = strings.Fields(`the a of river stone lantern quietly over under
	market harbour evening ledger signal copper window eleven distant returned
	Straße Grüße über Müller café naïve façade déjà señor año Ελλάδα θάλασσα
	καλημέρα Москва привет книга 東京 日本語 文字 北京 서울 한국어 ✓ € ½ 𝄞 🎉`)

func genProse() []byte {
	r := rng(0x9E3779B97F4A7C15)
	var b bytes.Buffer
	for b.Len() < corpusSize {
		n := 6 + r.intn(14)
		for i := range n {
			w := vocabulary[r.intn(len(vocabulary))]
			if i == 0 && w[0] >= 'a' && w[0] <= 'z' {
				w = string(w[0]-'a'+'A') + w[1:]
			}
			b.WriteString(w)
			if i < n-1 {
				b.WriteByte(' ')
			}
		}
		b.WriteString([]string{". ", "! ", "? ", ".\n\n"}[r.intn(4)])
	}
	return b.Bytes()
}

func genJSON() []byte {
	r := rng(0xD1B54A32D192ED03)
	var b bytes.Buffer
	b.WriteString("[\n")
	for i := 0; b.Len() < corpusSize; i++ {
		fmt.Fprintf(&b, `  {"id": %d, "name": "%s %s", "balance": %d.%02d, "active": %v, "tags": ["%s", "%s"], "city": "%s"},`+"\n",
			i, vocabulary[r.intn(len(vocabulary))], vocabulary[r.intn(len(vocabulary))],
			r.intn(100000), r.intn(100), r.intn(2) == 0,
			vocabulary[r.intn(20)], vocabulary[r.intn(20)], vocabulary[r.intn(len(vocabulary))])
	}
	b.WriteString("]\n")
	return b.Bytes()
}

func genHTML() []byte {
	r := rng(0x2545F4914F6CDD1D)
	var b bytes.Buffer
	b.WriteString("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Ledger</title></head><body>\n<table class=\"ledger\">\n")
	for i := 0; b.Len() < corpusSize; i++ {
		fmt.Fprintf(&b, "<tr class=\"%s\"><td id=\"r%d\">%s</td><td class=\"num\">%d</td><td><a href=\"/item/%d\">%s</a></td></tr>\n",
			[]string{"odd", "even"}[i%2], i, vocabulary[r.intn(len(vocabulary))], r.intn(1000000), r.intn(5000), vocabulary[r.intn(len(vocabulary))])
	}
	b.WriteString("</table></body></html>\n")
	return b.Bytes()
}

// genBitmap is a 1-bit raster of circles, rows of bytes: long runs.
func genBitmap() []byte {
	const w, h = 1024, 4096 // bits, rows: 512 KiB
	b := make([]byte, w/8*h)
	for y := range h {
		for x := range w {
			cx, cy := x%256-128, y%256-128
			d := cx*cx + cy*cy
			if d < 100*100 && d > 80*80 || (x+y)%97 == 0 {
				b[y*w/8+x/8] |= 0x80 >> (x % 8)
			}
		}
	}
	return b
}

// genDocument mixes incompressible runs (as a PDF's compressed streams)
// with repetitive object syntax.
func genDocument() []byte {
	r := rng(0xA0761D6478BD642F)
	var b bytes.Buffer
	for i := 0; b.Len() < corpusSize; i++ {
		fmt.Fprintf(&b, "%d 0 obj\n<< /Type /XObject /Length %d /Filter /FlateDecode >>\nstream\n", i, 1000)
		for range 1000 / 8 {
			x := r.next()
			for k := range 8 {
				b.WriteByte(byte(x >> (8 * k)))
			}
		}
		b.WriteString("\nendstream\nendobj\n")
	}
	return b.Bytes()
}

var corpora = []corpus{
	{"JSON records", opText, genJSON},
	{"a sparse 1-bit bitmap", opBinary, genBitmap},
	{"prose in several scripts", opText, genProse},
	{"an HTML table", opText, genHTML},
	{"a document of deflated streams and object syntax", opBinary, genDocument},
}

var (
	corpusOnce sync.Once
	corpusData [][]byte
)

func corpusBytes(i int) []byte {
	corpusOnce.Do(func() {
		for _, c := range corpora {
			corpusData = append(corpusData, c.gen())
		}
	})
	return corpusData[i]
}

// compSizes are the message sizes of each compression subgroup's 18
// cases: 13 sizes in one frame, then the 5 largest in frames of 256
// bytes.
var compSizes = []int{16, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072}

const compFrag = 256

func compSize(y int) (size, fragSize int) {
	if y < len(compSizes) {
		return compSizes[y], 0
	}
	return compSizes[len(compSizes)-5+(y-len(compSizes))], compFrag
}

// compCount is how many messages a case sends: up to 1000, and about
// 1 MiB in all (under -short up to 100, about 128 KiB).
func compCount(size int, short bool) int {
	budget, most := 1<<20, 1000
	if short {
		budget, most = 128<<10, 100
	}
	return max(4, min(most, budget/size))
}

func group12(b *tb) {
	for ci, co := range corpora {
		for y := range len(compSizes) + 5 {
			size, fragSize := compSize(y)
			id := fmt.Sprintf("12.%d.%d", ci+1, y+1)
			desc := fmt.Sprintf("compressed %s messages of %d bytes cut from %s", map[byte]string{opText: "text", opBinary: "binary"}[co.op], size, co.name)
			if fragSize > 0 {
				desc += fmt.Sprintf(", in frames of %d bytes", fragSize)
			}
			set := &pmdSet{offers: []string{"permessage-deflate"}, desc: "the default offer"}
			b.cases = append(b.cases, Case{ID: id, Desc: desc + "; " + set.desc, Expect: "every message echoed, compressed", pmd: set,
				Run: compRun(ci, co.op, size, fragSize, set)})
		}
	}
}

// The parameter sets of group 13: the fuzzing client's offers, and, for
// the mirror, the answer it gives a client's offer.
var pmdSets = []pmdSet{
	{offers: []string{"permessage-deflate"},
		desc: "offer: no parameters; mirror's answer: none"},
	{offers: []string{"permessage-deflate; server_no_context_takeover; client_no_context_takeover"},
		serverNoCtx: true, clientNoCtx: true,
		desc: "offer: no context takeover either way; mirror's answer: the same"},
	{offers: []string{"permessage-deflate; client_max_window_bits"},
		clientBits: 12,
		desc:       "offer: client_max_window_bits without a value; mirror's answer: client_max_window_bits=12 if offered"},
	{offers: []string{"permessage-deflate; server_max_window_bits=15"},
		serverBits: 9,
		desc:       "offer: server_max_window_bits=15; mirror's answer: server_max_window_bits=9"},
	{offers: []string{"permessage-deflate; client_no_context_takeover; client_max_window_bits=8"},
		clientNoCtx: true, serverBits: 8,
		desc: "offer: client_no_context_takeover, client_max_window_bits=8; mirror's answer: client_no_context_takeover, server_max_window_bits=8"},
	{offers: []string{"permessage-deflate; server_max_window_bits=10", "permessage-deflate"},
		serverNoCtx: true, clientBits: 9,
		desc: "offers: server_max_window_bits=10, then none (a server compressing with a 32 KiB window takes the second); mirror's answer: server_no_context_takeover, client_max_window_bits=9 if offered"},
	{offers: []string{"permessage-deflate; server_max_window_bits=8; server_no_context_takeover",
		"permessage-deflate; client_max_window_bits=12; client_no_context_takeover", "permessage-deflate"},
		serverNoCtx: true, clientNoCtx: true, serverBits: 11, clientBits: 10,
		desc: "offers: server_max_window_bits=8 with server_no_context_takeover, client_max_window_bits=12 with client_no_context_takeover, none; mirror's answer: all four parameters (windows 11 and 10)"},
}

func group13(b *tb) {
	for si := range pmdSets {
		set := &pmdSets[si]
		for y := range len(compSizes) + 5 {
			size, fragSize := compSize(y)
			id := fmt.Sprintf("13.%d.%d", si+1, y+1)
			desc := fmt.Sprintf("compressed text messages of %d bytes of prose", size)
			if fragSize > 0 {
				desc += fmt.Sprintf(", in frames of %d bytes", fragSize)
			}
			b.cases = append(b.cases, Case{ID: id, Desc: desc + "; " + set.desc, Expect: "the parameters negotiated as RFC 7692 says, every message echoed, compressed", pmd: set,
				Run: compRun(2, opText, size, fragSize, set)})
		}
	}
}

// compWindow is how many messages the runner keeps in flight.
const compWindow = 8

func compRun(corpusIdx int, op byte, size, fragSize int, set *pmdSet) func(*T) {
	return func(t *T) {
		var offers []ext
		for _, o := range set.offers {
			e, _ := parseExtensions([]string{o})
			offers = append(offers, e...)
		}
		c := t.connWith(offers)
		if c.pmd == nil {
			t.set(Unimplemented, "permessage-deflate was not negotiated")
			t.closeNormally(c, 0)
			return
		}
		t.note("negotiated %q", c.pmd.params)
		count := compCount(size, t.short)
		msgs := compMessages(corpusIdx, op, size, count)
		n := 0
		sent := 0
		for n < count {
			for sent < count && sent-n < compWindow {
				c.sendMessage(op, msgs[sent], fragSize)
				sent++
			}
			if !t.expect(c, &n, item{op: op, data: msgs[n]}) {
				t.note("message %d of %d", n+1, count)
				return
			}
		}
		items, _, _, _ := c.snapshot()
		comp := 0
		for _, it := range items {
			if it.comp {
				comp++
			}
		}
		t.note("%d messages echoed, %d of them compressed", count, comp)
		t.closeNormally(c, n)
	}
}

// compMessages cuts count messages of about size bytes from a corpus;
// text ones at code point boundaries.
func compMessages(corpusIdx int, op byte, size, count int) [][]byte {
	data := corpusBytes(corpusIdx)
	msgs := make([][]byte, count)
	off := 0
	for i := range msgs {
		if off+size > len(data) {
			off = 0
		}
		m := data[off : off+size]
		if op == opText {
			for len(m) > 0 && !utf8.RuneStart(m[0]) {
				m = m[1:]
			}
			if i := len(m) - 1; i >= 0 {
				j := i
				for j > 0 && j > i-3 && !utf8.RuneStart(m[j]) {
					j--
				}
				if !utf8.FullRune(m[j:]) {
					m = m[:j]
				}
			}
		}
		msgs[i] = m
		off += size*7/3 + 1
	}
	return msgs
}
