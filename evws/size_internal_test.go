package evws

import (
	"testing"
	"unsafe"
)

// TestConnSize keeps the Conn of an idle connection small: it is most of
// what evws adds to an evnet connection.
func TestConnSize(t *testing.T) {
	if n := unsafe.Sizeof(Conn{}); n > 208 {
		t.Errorf("Conn is %d bytes, want at most 208 (a size class)", n)
	} else {
		t.Logf("Conn is %d bytes", n)
	}
}
