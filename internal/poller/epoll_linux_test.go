//go:build linux

package poller

import (
	"fmt"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func init() { backends = append(backends, backend{"epoll", NewEpoll}) }

// TestHoldWait: the short raw wait reports events and wake-ups as ready,
// times out as not ready, on epoll_pwait2 and on the ppoll fallback.
func TestHoldWait(t *testing.T) {
	for _, fallback := range []bool{false, true} {
		t.Run(fmt.Sprintf("ppoll=%v", fallback), func(t *testing.T) {
			pp, err := NewEpoll()
			if err != nil {
				t.Fatal(err)
			}
			defer pp.Close()
			p := pp.(*epoll)
			p.noPwait2 = fallback
			fds := &fdSet{t: t, open: map[int]bool{}}
			defer func() {
				for fd := range fds.open {
					unix.Close(fd)
				}
			}()
			out := make([]Event, 8)
			if n, ready, err := p.HoldWait(out, 200*time.Microsecond); n != 0 || ready || err != nil {
				t.Fatalf("HoldWait with nothing ready = %d, %v, %v; want 0, false, nil", n, ready, err)
			}
			r, w := fds.pipe()
			if err := p.Modify(r, 7, 0, Read); err != nil {
				t.Fatal(err)
			}
			write(t, w)
			n, ready, err := p.HoldWait(out, 100*time.Millisecond)
			if n != 1 || !ready || err != nil || out[0].Fd != int32(r) || out[0].Gen != 7 || out[0].Ready&Read == 0 {
				t.Fatalf("HoldWait with a readable pipe = %d, %v, %v, %+v", n, ready, err, out[0])
			}
			if err := p.Modify(r, 7, Read, 0); err != nil {
				t.Fatal(err)
			}
			p.Wake()
			if n, ready, err := p.HoldWait(out, 100*time.Millisecond); n != 0 || !ready || err != nil {
				t.Fatalf("HoldWait after Wake = %d, %v, %v; want 0, true, nil", n, ready, err)
			}
			// The wake-up was drained: the next wait times out.
			if n, ready, _ := p.HoldWait(out, 100*time.Microsecond); n != 0 || ready {
				t.Fatalf("HoldWait after a drained wake-up = %d, %v; want 0, false", n, ready)
			}
			// d < 0: until an event, here a wake-up from another goroutine
			// (a preemption signal may end a wait first: wait again).
			go p.Wake()
			for {
				n, ready, err := p.HoldWait(out, -1)
				if err != nil || n != 0 {
					t.Fatalf("HoldWait(-1) = %d, %v, %v; want a wake-up", n, ready, err)
				}
				if ready {
					break
				}
			}
			p.Close()
			if _, _, err := p.HoldWait(out, time.Millisecond); err != ErrClosed {
				t.Fatalf("HoldWait after Close = %v, want ErrClosed", err)
			}
		})
	}
}
