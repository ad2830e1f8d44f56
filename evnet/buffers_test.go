package evnet_test

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/eddyloop/eddy/evnet"
	"github.com/eddyloop/eddy/internal/testutil"
)

// TestConfigBuffers: ConnConfig's ReadBuffer and WriteBuffer reach the
// sockets of a Dialer's connections and of a Listener's accepted ones
// (set on the listening socket, which they inherit), and zero leaves the
// kernel's sizes.
func TestConfigBuffers(t *testing.T) {
	rl := startLoop(t)
	type sizes struct{ rcv, snd int }
	get := func(c *evnet.Conn) sizes {
		fd := c.Fd()
		rcv, err1 := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF)
		snd, err2 := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF)
		if err1 != nil || err2 != nil {
			t.Errorf("getsockopt: %v, %v", err1, err2)
		}
		return sizes{rcv, snd}
	}
	// The kernel may double what it is asked for (Linux does), and has
	// floors of its own: a size is right when it is within that.
	near := func(got, want int) bool { return got >= want && got <= 2*want }
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			addr := "127.0.0.1:0"
			if network == "unix" {
				addr = t.TempDir() + "/s"
			}
			var accepted, dialled, plain []sizes
			lc := evnet.ListenConfig{Conn: evnet.ConnConfig{ReadBuffer: 20 << 10, WriteBuffer: 24 << 10}}
			h := evnet.Handler{
				OnOpen: func(c *evnet.Conn) { accepted = append(accepted, get(c)) },
				OnData: func(c *evnet.Conn, p []byte) int { return len(p) },
			}
			var ln *evnet.Listener
			rl.Do(func() {
				var err error
				if ln, err = lc.Listen(rl.Loop, network, addr, h); err != nil {
					t.Fatal(err)
				}
				if network == "tcp" {
					addr = ln.Addr().String()
				}
			})
			defer rl.Do(func() { ln.Close() })
			var conns []*evnet.Conn
			defer rl.Do(func() {
				for _, c := range conns {
					c.Close()
				}
			})
			rl.Do(func() {
				for i, cfg := range []evnet.ConnConfig{{ReadBuffer: 28 << 10, WriteBuffer: 32 << 10}, {}} {
					d := evnet.Dialer{Timeout: 5 * time.Second, Conn: cfg}
					c, err := d.Dial(rl.Loop, network, addr, evnet.Handler{
						OnOpen: func(c *evnet.Conn) {
							if i == 0 {
								dialled = append(dialled, get(c))
							} else {
								plain = append(plain, get(c))
							}
						},
						OnData: func(c *evnet.Conn, p []byte) int { return len(p) },
					})
					if err != nil {
						t.Fatal(err)
					}
					conns = append(conns, c)
				}
			})
			if !testutil.Eventually(10*time.Second, func() bool {
				var n int
				rl.Do(func() { n = len(accepted) + len(dialled) + len(plain) })
				return n == 4
			}) {
				t.Fatal("the connections did not open")
			}
			rl.Do(func() {
				for _, s := range accepted {
					if !near(s.rcv, 20<<10) || !near(s.snd, 24<<10) {
						t.Errorf("accepted: SO_RCVBUF %d, SO_SNDBUF %d; want 20 and 24 KiB, or twice that", s.rcv, s.snd)
					}
				}
				if s := dialled[0]; !near(s.rcv, 28<<10) || !near(s.snd, 32<<10) {
					t.Errorf("dialled: SO_RCVBUF %d, SO_SNDBUF %d; want 28 and 32 KiB, or twice that", s.rcv, s.snd)
				}
				if s := plain[0]; near(s.rcv, 28<<10) && near(s.snd, 32<<10) {
					t.Errorf("dialled with no sizes: SO_RCVBUF %d, SO_SNDBUF %d, the other Dialer's", s.rcv, s.snd)
				}
			})
		})
	}
}
