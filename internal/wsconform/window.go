package wsconform

import (
	"errors"
	"fmt"
)

// deflateReach parses a raw DEFLATE stream (RFC 1951) without producing
// its output and returns the longest back-reference distance it uses.
// compress/flate inflates with a 32 KiB window whatever the sender
// declared, so this is how the runner checks that a peer which declared
// a smaller window (server_max_window_bits, client_max_window_bits)
// keeps to it.
func deflateReach(p []byte) (reach int, err error) {
	br := &bitReader{p: p}
	defer func() {
		if r := recover(); r != nil {
			if r != errShort {
				panic(r)
			}
			err = errShort
		}
	}()
	for {
		final := br.bits(1)
		switch br.bits(2) {
		case 0:
			br.align()
			n := br.bits(16)
			if br.bits(16) != ^n&0xFFFF {
				return reach, errors.New("stored block with a bad length")
			}
			br.skipBytes(n)
		case 1:
			if err := br.codes(&fixedLit, &fixedDist, &reach); err != nil {
				return reach, err
			}
		case 2:
			lit, dist, err := br.dynamic()
			if err != nil {
				return reach, err
			}
			if err := br.codes(lit, dist, &reach); err != nil {
				return reach, err
			}
		default:
			return reach, errors.New("block type 3")
		}
		if final == 1 || br.done() {
			return reach, nil
		}
	}
}

var errShort = errors.New("the stream ends inside a block")

type bitReader struct {
	p   []byte
	pos int // bit position
}

func (b *bitReader) bit() int {
	if b.pos>>3 >= len(b.p) {
		panic(errShort)
	}
	v := int(b.p[b.pos>>3]>>(b.pos&7)) & 1
	b.pos++
	return v
}

func (b *bitReader) bits(n int) int {
	v := 0
	for i := range n {
		v |= b.bit() << i
	}
	return v
}

func (b *bitReader) align() { b.pos = (b.pos + 7) &^ 7 }

func (b *bitReader) skipBytes(n int) {
	b.pos += 8 * n
	if b.pos>>3 > len(b.p) {
		panic(errShort)
	}
}

// done: only padding (fewer than 8 bits) is left.
func (b *bitReader) done() bool { return len(b.p)*8-b.pos < 8 }

// huffman is a canonical Huffman code, as puff.c builds it.
type huffman struct {
	count  [16]int
	symbol []int
}

func newHuffman(lengths []int) (*huffman, error) {
	h := &huffman{symbol: make([]int, 0, len(lengths))}
	for _, l := range lengths {
		h.count[l]++
	}
	h.count[0] = 0
	left := 1
	for l := 1; l < 16; l++ {
		left <<= 1
		left -= h.count[l]
		if left < 0 {
			return nil, errors.New("over-subscribed Huffman code")
		}
	}
	for l := 1; l < 16; l++ {
		for s, sl := range lengths {
			if sl == l {
				h.symbol = append(h.symbol, s)
			}
		}
	}
	return h, nil
}

func (b *bitReader) decode(h *huffman) (int, error) {
	code, first, index := 0, 0, 0
	for l := 1; l < 16; l++ {
		code |= b.bit()
		count := h.count[l]
		if code-count < first {
			return h.symbol[index+code-first], nil
		}
		index += count
		first += count
		first <<= 1
		code <<= 1
	}
	return 0, errors.New("invalid Huffman code")
}

var (
	lenBase   = [...]int{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	lenExtra  = [...]int{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	distBase  = [...]int{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	distExtra = [...]int{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
	clOrder   = [...]int{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}

	fixedLit, fixedDist = func() (huffman, huffman) {
		l := make([]int, 288)
		for i := range l {
			switch {
			case i < 144:
				l[i] = 8
			case i < 256:
				l[i] = 9
			case i < 280:
				l[i] = 7
			default:
				l[i] = 8
			}
		}
		d := make([]int, 30)
		for i := range d {
			d[i] = 5
		}
		lh, _ := newHuffman(l)
		dh, _ := newHuffman(d)
		return *lh, *dh
	}()
)

func (b *bitReader) dynamic() (lit, dist *huffman, err error) {
	nlen, ndist, ncode := b.bits(5)+257, b.bits(5)+1, b.bits(4)+4
	var cl [19]int
	for i := range ncode {
		cl[clOrder[i]] = b.bits(3)
	}
	clh, err := newHuffman(cl[:])
	if err != nil {
		return nil, nil, err
	}
	lengths := make([]int, 0, nlen+ndist)
	for len(lengths) < nlen+ndist {
		sym, err := b.decode(clh)
		if err != nil {
			return nil, nil, err
		}
		switch {
		case sym < 16:
			lengths = append(lengths, sym)
		case sym == 16:
			if len(lengths) == 0 {
				return nil, nil, errors.New("repeat with no length to repeat")
			}
			prev := lengths[len(lengths)-1]
			for range 3 + b.bits(2) {
				lengths = append(lengths, prev)
			}
		case sym == 17:
			for range 3 + b.bits(3) {
				lengths = append(lengths, 0)
			}
		default:
			for range 11 + b.bits(7) {
				lengths = append(lengths, 0)
			}
		}
	}
	if len(lengths) > nlen+ndist {
		return nil, nil, errors.New("code lengths overrun")
	}
	if lit, err = newHuffman(lengths[:nlen]); err != nil {
		return nil, nil, err
	}
	if dist, err = newHuffman(lengths[nlen:]); err != nil {
		return nil, nil, err
	}
	return lit, dist, nil
}

func (b *bitReader) codes(lit, dist *huffman, reach *int) error {
	for {
		sym, err := b.decode(lit)
		if err != nil {
			return err
		}
		switch {
		case sym < 256:
		case sym == 256:
			return nil
		default:
			sym -= 257
			if sym >= len(lenBase) {
				return fmt.Errorf("length symbol %d", sym+257)
			}
			b.bits(lenExtra[sym])
			ds, err := b.decode(dist)
			if err != nil {
				return err
			}
			if ds >= len(distBase) {
				return fmt.Errorf("distance symbol %d", ds)
			}
			d := distBase[ds] + b.bits(distExtra[ds])
			if d > *reach {
				*reach = d
			}
		}
	}
}
