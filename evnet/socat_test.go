package evnet_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"testing"
	"time"

	"github.com/eddyloop/eddy/evnet"
	"github.com/eddyloop/eddy/internal/testutil"
)

// TestSocatClient: socat sends a file through the echo server, over TCP
// and Unix, shuts down its sending side, and must get every byte back.
func TestSocatClient(t *testing.T) {
	bin := testutil.NeedPeer(t, "socat", "socat")
	rl := startLoop(t)
	srv := &echoServer{}
	ln := listen(t, rl, "tcp", "127.0.0.1:0", evnet.ListenConfig{}, srv)
	path := t.TempDir() + "/echo.sock"
	listen(t, rl, "unix", path, evnet.ListenConfig{}, &echoServer{})
	data := pattern(2 << 20)
	for _, target := range []string{"TCP:" + ln.Addr().String(), "UNIX-CONNECT:" + path} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cmd := exec.CommandContext(ctx, bin, "-t", "10", "-", target)
		cmd.Stdin = bytes.NewReader(data)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		cancel()
		if err != nil || !bytes.Equal(out, data) {
			t.Errorf("socat %s: %v, %d bytes of %d back (%s)", target, err, len(out), len(data), stderr.String())
		}
	}
}

// TestSocatServer: evnet dials a socat echo server (socat running cat)
// over Unix and TCP, writes, half-closes, and reads everything back.
// (socat's PIPE address can deadlock itself on a full pipe: cat cannot.)
func TestSocatServer(t *testing.T) {
	bin := testutil.NeedPeer(t, "socat", "socat")
	rl := startLoop(t)
	port := freePort(t, rl)
	path := t.TempDir() + "/socat.sock"
	for _, tc := range []struct{ listen, network, addr string }{
		{"UNIX-LISTEN:" + path, "unix", path},
		{"TCP-LISTEN:" + port + ",bind=127.0.0.1,reuseaddr", "tcp", "127.0.0.1:" + port},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cmd := exec.CommandContext(ctx, bin, tc.listen, "EXEC:cat")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		data := pattern(1 << 20)
		var got []byte
		var reason error
		var dbg *evnet.Conn
		// Dial until socat listens. socat is another process, whose
		// listen the test cannot see: the sleep paces the retries.
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			var refused bool
			reason, got = nil, nil
			rl.Do(func() {
				c, err := evnet.Dial(rl.Loop, tc.network, tc.addr, 5*time.Second, evnet.Handler{
					OnData: func(c *evnet.Conn, p []byte) int {
						got = append(got, p...)
						return len(p)
					},
					OnClose: func(c *evnet.Conn, err error) { reason = err },
				})
				if err != nil {
					refused = true
					return
				}
				c.Write(data)
				c.CloseWrite()
				dbg = c
			})
			if !refused {
				if !testutil.Eventually(10*time.Second, func() bool {
					var done bool
					rl.Do(func() { done = reason != nil })
					return done
				}) {
					var msg string
					rl.Do(func() { msg = fmt.Sprintf("%s: socat echo stuck: %d bytes back; %s", tc.network, len(got), dbg) })
					t.Fatal(msg)
				}
				var r error
				rl.Do(func() { r = reason })
				if errors.Is(r, evnet.ErrEOF) || time.Now().After(deadline) {
					break
				}
			} else if time.Now().After(deadline) {
				break
			}
		}
		cmd.Wait()
		cancel()
		rl.Do(func() {
			if !bytes.Equal(got, data) || !errors.Is(reason, evnet.ErrEOF) {
				t.Errorf("%s: %d bytes of %d, reason %v", tc.network, len(got), len(data), reason)
			}
		})
	}
}

// freePort returns a TCP port that was free a moment ago.
func freePort(t *testing.T, rl *runLoop) string {
	t.Helper()
	var port string
	rl.Do(func() {
		ln, err := evnet.Listen(rl.Loop, "tcp", "127.0.0.1:0", evnet.Handler{})
		if err != nil {
			t.Fatal(err)
		}
		port = ln.Addr().String()[len("127.0.0.1:"):]
		ln.Close()
	})
	return port
}
