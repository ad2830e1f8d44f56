package evhttp

// Graceful shutdown and close of a Server: Shutdown, Close and
// StartShutdown mark the server closing and have every loop drain
// (loopServer.drain: its listeners closed, its idle connections closed at
// once, the others after their responses) or reset its connections
// (abortAll); each loop reports when it has none left, and the last report
// ends the shutdown.

import (
	"context"
	"time"

	"github.com/eddyloop/eddy"
)

// Shutdown stops the server gracefully: it stops accepting, closes the
// idle keep-alive connections at once, lets the requests in progress
// finish (their responses say Connection: close) and closes each
// connection when its last response is sent. It returns nil when every
// connection is closed, or, if ctx ends first, resets the connections
// left, waits for them to close and returns ctx.Err(). It must be called
// from a goroutine other than the server's loops', which must be running;
// from a loop's callback use StartShutdown.
func (s *Server) Shutdown(ctx context.Context) error {
	drained := s.start(-1, nil)
	select {
	case <-drained:
		return nil
	case <-ctx.Done():
	}
	s.abort()
	<-drained
	return ctx.Err()
}

// Close resets every connection of the server at once and closes its
// listeners; it returns when they are closed. Like Shutdown, it must be
// called from a goroutine other than the server's loops'.
func (s *Server) Close() error {
	drained := s.start(-1, nil)
	s.abort()
	<-drained
	return nil
}

// StartShutdown begins what Shutdown does and returns at once: it may be
// called from any goroutine, a callback of one of the server's loops
// included. The connections still open after timeout are reset (a
// negative timeout waits for ever). done, if not nil, is called once
// every connection is closed, on the goroutine of the loop that closed
// the last one (or at once, on the caller's, if there is none).
func (s *Server) StartShutdown(timeout time.Duration, done func()) {
	s.start(timeout, done)
}

// start marks the server closing, tells every loop to drain, and returns
// the channel closed once they have.
func (s *Server) start(timeout time.Duration, done func()) <-chan struct{} {
	s.setup()
	s.mu.Lock()
	first := !s.closing
	if first {
		s.closing = true
		s.drained = make(chan struct{})
	}
	var m map[*eddy.Loop]*loopServer
	if p := s.states.Load(); p != nil {
		m = *p
	}
	if first {
		s.busy = len(m)
	}
	ch := s.drained
	if done != nil {
		select {
		case <-ch:
			s.mu.Unlock()
			done()
			return ch
		default:
			s.onDone = append(s.onDone, done)
		}
	}
	if first && s.busy == 0 {
		close(s.drained)
		s.mu.Unlock()
		s.runDone()
		return ch
	}
	s.mu.Unlock()
	for _, ls := range m {
		ls.loop.Post(func() { ls.drain(timeout) })
	}
	return ch
}

// abort tells every loop to reset its connections.
func (s *Server) abort() {
	if p := s.states.Load(); p != nil {
		for _, ls := range *p {
			ls.loop.Post(ls.abortAll)
		}
	}
}

// loopDrained records that one loop has no connection left.
func (s *Server) loopDrained() {
	s.mu.Lock()
	s.busy--
	last := s.busy == 0
	if last {
		close(s.drained)
	}
	s.mu.Unlock()
	if last {
		s.runDone()
	}
}

func (s *Server) runDone() {
	s.mu.Lock()
	fs := s.onDone
	s.onDone = nil
	s.mu.Unlock()
	for _, f := range fs {
		f()
	}
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// drain starts the graceful shutdown on this loop.
func (ls *loopServer) drain(timeout time.Duration) {
	if !ls.draining {
		ls.draining = true
		for _, ln := range ls.listeners {
			ln.Close()
		}
		ls.listeners = nil
		for _, hc := range append([]*conn(nil), ls.conns...) {
			hc.drain()
		}
	}
	if timeout >= 0 && !ls.reported {
		if !ls.drainT.IsActive() || ls.drainT.Remaining() > timeout {
			ls.drainT.Stop()
			ls.drainT.Init(func(*eddy.Timer) { ls.abortAll() }, timeout, 0)
			ls.drainT.Start(ls.loop)
		}
	}
	ls.checkDrained()
}

// abortAll resets every connection of the loop.
func (ls *loopServer) abortAll() {
	ls.draining = true
	for _, ln := range ls.listeners {
		ln.Close()
	}
	ls.listeners = nil
	for _, hc := range append([]*conn(nil), ls.conns...) {
		hc.c.Abort()
	}
	ls.checkDrained()
}

// checkDrained reports the loop drained once it is closing with no
// connection left.
func (ls *loopServer) checkDrained() {
	if ls.draining && !ls.reported && len(ls.conns) == 0 && ls.srv.isClosing() {
		ls.reported = true
		ls.drainT.Stop()
		ls.srv.loopDrained()
	}
}
