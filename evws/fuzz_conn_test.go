package evws

import (
	"os"
	"testing"
	"time"

	"github.com/eddyloop/eddy/evnet"
	"github.com/eddyloop/eddy/internal/testutil"
	"github.com/eddyloop/eddy/internal/testutil/testloop"
	"golang.org/x/sys/unix"
)

// FuzzServerRead feeds arbitrary bytes, as a client's, to a server
// connection on a real loop (deflate negotiated, context kept, small
// limits): whatever they are, the connection neither panics nor holds more
// than its limits, and ends once the peer is gone.
func FuzzServerRead(f *testing.F) {
	mask := func(b0 byte, p string) []byte {
		b := []byte{b0, 0x80 | byte(len(p)), 1, 2, 3, 4}
		for i := range len(p) {
			b = append(b, p[i]^byte(i%4+1))
		}
		return b
	}
	f.Add(mask(0x81, "hello"), 3)
	f.Add(append(mask(0x01, "frag"), mask(0x80, "ment")...), 7)
	f.Add(append(mask(0x89, "ping"), mask(0x88, "\x03\xe8")...), 1)
	f.Add(mask(0xc1, "\xf2\x48\xcd\xc9\xc9\x07\x00"), 5)
	f.Add([]byte{0x82, 0xff, 0, 0, 0, 0, 0, 0, 1, 0, 1, 2, 3, 4}, 4)
	rl := testloop.Start(f)
	cfg := (&Config{MaxMessageBytes: 1 << 16, Deflate: true, ContextTakeoverBudget: 1 << 20, CloseTimeout: time.Second}).withDefaults()
	h := Handler{
		OnMessage: func(c *Conn, op Opcode, p []byte) {
			if len(p) > cfg.MaxMessageBytes {
				panic("message over the limit")
			}
			c.WriteMessage(op, p)
		},
	}
	f.Fuzz(func(t *testing.T, data []byte, cut int) {
		a, b := testutil.Socketpair(t)
		closed := make(chan struct{})
		rl.Do(func() {
			c := &Conn{cfg: &cfg, h: &h, flags: fDeflate, deflate: deflateParams{serverNoContext: true, serverBits: 15, clientBits: 15}}
			hd := handler
			hd.OnOpen = c.openServer
			inner := h
			inner.OnClose = func(*Conn, error) { close(closed) }
			c.h = &inner
			if _, err := evnet.Adopt(rl.Loop, a, hd, nil); err != nil {
				t.Fatal(err)
			}
		})
		if cut < 0 || cut > len(data) {
			cut = len(data) / 2
		}
		unix.Write(b, data[:cut])
		unix.Write(b, data[cut:])
		unix.Shutdown(b, unix.SHUT_WR)
		peer := os.NewFile(uintptr(dup(t, b)), "peer")
		defer peer.Close()
		go func() { // drain what the server writes
			buf := make([]byte, 64<<10)
			for {
				if _, err := peer.Read(buf); err != nil {
					return
				}
			}
		}()
		select {
		case <-closed:
		case <-time.After(10 * time.Second):
			t.Fatal("the connection did not end")
		}
	})
}

func dup(t *testing.T, fd int) int {
	d, err := unix.Dup(fd)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
