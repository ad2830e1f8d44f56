package evnet_test

import (
	"os"
	"testing"

	"github.com/eddyloop/eddy/evnet"
	"github.com/eddyloop/eddy/internal/testutil"
	"github.com/eddyloop/eddy/internal/testutil/testloop"
)

// TestMain fails the run when a test leaves descriptors open or goroutines
// running.
func TestMain(m *testing.M) {
	if os.Getenv(emfileEnv) != "" {
		os.Exit(emfileChild())
	}
	if os.Getenv(tlsMemEnv) != "" {
		os.Exit(tlsMemChild())
	}
	os.Exit(testutil.Main(m))
}

// runLoop is a loop running on its own goroutine for a test.
type runLoop = testloop.Loop

func startLoop(t testing.TB) *runLoop { return testloop.Start(t) }

// echoServer is an echo handler with backpressure that counts closes.
type echoServer struct {
	opened, closed int // loop goroutine only
	pauses         int // reads paused for a full output queue; loop goroutine only
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
		s.pauses++
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
	rl.Do(func() { ln, err = lc.Listen(rl.Loop, network, addr, s.handler()) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		rl.Do(func() { ln.Close(); s.closeAll() })
	})
	return ln
}
