package evnet

import (
	"bytes"
	"testing"
)

// TestSplitFirstRecord: the first record is split into records of at
// most firstFragment bytes with its type and version, the payload and
// what follows unchanged; anything else is left as it is.
func TestSplitFirstRecord(t *testing.T) {
	record := func(typ byte, payload []byte) []byte {
		return append([]byte{typ, 3, 1, byte(len(payload) >> 8), byte(len(payload))}, payload...)
	}
	payload := make([]byte, 1300)
	for i := range payload {
		payload[i] = byte(i)
	}
	rest := []byte{23, 3, 3, 0, 1, 'x'}
	in := append(record(recordTypeHandshake, payload), rest...)
	out := splitFirstRecord(bytes.Clone(in))
	var got []byte
	p := out
	for range 3 {
		if p[0] != recordTypeHandshake || p[1] != 3 || p[2] != 1 {
			t.Fatalf("header % x", p[:5])
		}
		n := int(p[3])<<8 | int(p[4])
		if n > firstFragment {
			t.Fatalf("record of %d bytes", n)
		}
		got = append(got, p[5:5+n]...)
		p = p[5+n:]
	}
	if !bytes.Equal(got, payload) || !bytes.Equal(p, rest) {
		t.Fatalf("payload equal %v, rest % x", bytes.Equal(got, payload), p)
	}
	for _, keep := range [][]byte{
		record(recordTypeHandshake, payload[:firstFragment]), // short enough
		record(recordTypeHandshake, payload)[:700],           // not whole
		record(21, payload),                                  // not a handshake record
		{22, 3},                                              // no header
	} {
		if out := splitFirstRecord(bytes.Clone(keep)); !bytes.Equal(out, keep) {
			t.Errorf("% x... was changed", keep[:min(len(keep), 5)])
		}
	}
}
