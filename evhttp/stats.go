package evhttp

// A Server's figures (ServerStats): its requests by status class and
// their durations, kept per loop in atomics that the loop writes and any
// goroutine reads, and its listeners' connections.

import (
	"sync/atomic"
	"time"

	"golang.org/x/sys/cpu"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evnet"
)

// ServerStats are a Server's figures, as Server.Stats returns them.
type ServerStats struct {
	// Requests counts the exchanges over by the class of their status:
	// Requests[1] to Requests[5] are 1xx to 5xx, Requests[0] those that
	// ended without a response head (the connection closed first, or the
	// handler never answered). The error responses the server makes itself
	// (400 for a malformed head, 431, 505...) count in their class; a 101
	// that switched protocols counts in 1xx.
	Requests [6]uint64
	// Duration is the histogram of the requests' durations, from the
	// iteration of the loop that read the request's head to the one in
	// which its exchange was over (its response queued whole, its body
	// read), on the loop's cached time: as nginx's $request_time, a request
	// answered in the iteration that read it takes 0 (the first bucket),
	// and no clock is read for it. The server's own error responses are not
	// in it.
	Duration eddy.Histogram
	// Conns are the figures of the connections of the listeners that
	// Serve and ServeGroup made, summed (see evnet.ListenerStats);
	// connections given to ConnHandler by the program are not in them.
	Conns evnet.ListenerStats
}

// Total returns the number of requests over, every class summed.
func (s *ServerStats) Total() uint64 {
	var n uint64
	for _, c := range s.Requests {
		n += c
	}
	return n
}

// serverCounters are the figures of a Server's on one loop: atomics,
// written by the loop and read by any goroutine, on cache lines of their
// own.
type serverCounters struct {
	_        cpu.CacheLinePad
	requests [6]atomic.Uint64
	duration eddy.HistogramRecorder
	_        cpu.CacheLinePad
}

// observe counts the exchange x, which is over: its status class, and its
// duration if now (the loop server's clock) is not zero.
func (k *serverCounters) observe(x *exchange, now int64) {
	class := 0
	if x.flags&xHeadSent != 0 {
		if c := x.w.status / 100; c >= 1 && c <= 5 {
			class = c
		}
	}
	k.requests[class].Add(1)
	if now != 0 && x.begun != 0 {
		k.duration.Observe(time.Duration(now - x.begun))
	}
}

// keepListener adds ln to the listeners whose figures Stats sums.
func (s *Server) keepListener(ln *evnet.Listener) {
	s.mu.Lock()
	s.lns = append(s.lns, ln)
	s.mu.Unlock()
}

// Stats returns the server's figures so far, on all its loops. It may be
// called from any goroutine, and never stops or locks a loop: it reads
// atomics that each loop updates as its requests end (it takes the
// Server's own mutex, briefly, for the list of its listeners).
func (s *Server) Stats() ServerStats {
	var st ServerStats
	if p := s.states.Load(); p != nil {
		for _, ls := range *p {
			for i := range st.Requests {
				st.Requests[i] += ls.st.requests[i].Load()
			}
			h := ls.st.duration.Snapshot()
			st.Duration.Add(&h)
		}
	}
	s.mu.Lock()
	lns := s.lns[:len(s.lns):len(s.lns)]
	s.mu.Unlock()
	for _, ln := range lns {
		c := ln.Stats()
		st.Conns.Add(&c)
	}
	return st
}
