package evnet_test

import (
	"os"
	"testing"
	"time"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evnet"
	"github.com/eddyloop/eddy/internal/testutil"
)

// TestMain fails the run when a test leaves descriptors open or goroutines
// running.
func TestMain(m *testing.M) {
	if os.Getenv(emfileEnv) != "" {
		os.Exit(emfileChild())
	}
	os.Exit(testutil.Main(m))
}

// runLoop is a loop running on its own goroutine for a test. Use do to run
// code on it; stop ends it (also registered as a cleanup).
type runLoop struct {
	*eddy.Loop
	done chan error
}

func startLoop(t testing.TB) *runLoop {
	t.Helper()
	l, err := eddy.NewLoop(eddy.Config{})
	if err != nil {
		t.Fatal(err)
	}
	rl := &runLoop{Loop: l, done: make(chan error, 1)}
	// An unreferenced idle-forever timer keeps nothing alive; a referenced
	// one keeps Run running until stop.
	keep := eddy.NewTimer(func(*eddy.Timer) {}, time.Hour, time.Hour)
	ready := make(chan struct{})
	go func() {
		l.Post(func() { keep.Start(l); close(ready) })
		rl.done <- l.Run()
	}()
	<-ready
	t.Cleanup(func() { rl.stop(t, keep) })
	return rl
}

func (rl *runLoop) stop(t testing.TB, keep *eddy.Timer) {
	rl.Post(func() { keep.Stop(); rl.Break(eddy.BreakAll) })
	select {
	case err := <-rl.done:
		if err != nil {
			t.Errorf("loop: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("loop did not stop")
	}
	rl.Close()
}

// do runs f on the loop and waits for it.
func (rl *runLoop) do(f func()) {
	ch := make(chan struct{})
	rl.Post(func() { f(); close(ch) })
	<-ch
}

// echoServer is an echo handler with backpressure that counts closes.
type echoServer struct {
	opened, closed int // loop goroutine only
	conns          map[*evnet.Conn]bool
	reasons        []error
	onOpen         func(c *evnet.Conn)
}

func (s *echoServer) handler() evnet.Handler {
	s.conns = map[*evnet.Conn]bool{}
	return evnet.Handler{OnOpen: s.open, OnData: s.data, OnDrain: s.drain, OnClose: s.close}
}

func (s *echoServer) open(c *evnet.Conn) {
	s.opened++
	s.conns[c] = true
	if s.onOpen != nil {
		s.onOpen(c)
	}
}

func (s *echoServer) data(c *evnet.Conn, p []byte) int {
	c.Write(p)
	if c.Full() {
		c.PauseRead()
	}
	return len(p)
}

func (s *echoServer) drain(c *evnet.Conn) { c.ResumeRead() }

func (s *echoServer) close(c *evnet.Conn, err error) {
	s.closed++
	delete(s.conns, c)
	s.reasons = append(s.reasons, err)
}

// closeAll closes the server's connections at once (loop goroutine).
func (s *echoServer) closeAll() {
	for c := range s.conns {
		c.Abort()
	}
}

// listen starts an echo server on rl and returns its listener.
func listen(t testing.TB, rl *runLoop, network, addr string, lc evnet.ListenConfig, s *echoServer) *evnet.Listener {
	t.Helper()
	var ln *evnet.Listener
	var err error
	rl.do(func() { ln, err = lc.Listen(rl.Loop, network, addr, s.handler()) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		rl.do(func() { ln.Close(); s.closeAll() })
	})
	return ln
}
