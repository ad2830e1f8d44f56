package evhttp

// A Server's figures (ServerStats): its requests by status class and
// their durations, kept per loop in atomics that the loop writes and any
// goroutine reads, and its listeners' connections.

import (
	"math/bits"
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

// serverCounters are the figures of a Server's on one loop: the loop's
// own tallies, and the atomics that other goroutines read, on cache lines
// of their own. The loop tallies each exchange as it ends (observe), and
// publishes what changed at the end of the batch (publish): one store for
// a batch of pipelined requests of the same class and bucket, where an
// atomic addition per request would cost several per request.
type serverCounters struct {
	_        cpu.CacheLinePad
	requests [6]atomic.Uint64
	buckets  [eddy.HistogramBuckets]atomic.Uint64
	sum      atomic.Int64
	_        cpu.CacheLinePad

	// The tallies, and which changed since the last publish. Loop
	// goroutine only.
	tally struct {
		requests     [6]uint64
		buckets      [eddy.HistogramBuckets]uint64
		sum          int64
		dirtyReqs    uint8
		dirtyBuckets uint32
		dirtySum     bool
	}
}

// observe tallies the exchange x, which is over: its status class, and
// its duration if now (the loop server's clock) is not zero.
func (k *serverCounters) observe(x *exchange, now int64) {
	t := &k.tally
	class := 0
	if x.flags&xHeadSent != 0 {
		if c := x.w.status / 100; c >= 1 && c <= 5 {
			class = c
		}
	}
	t.requests[class]++
	t.dirtyReqs |= 1 << class
	if now != 0 && x.begun != 0 {
		d := time.Duration(now - x.begun)
		b := eddy.HistogramBucket(d)
		t.buckets[b]++
		t.dirtyBuckets |= 1 << b
		if d > 0 {
			t.sum += int64(d)
			t.dirtySum = true
		}
	}
}

// publish stores the tallies that changed since the last call.
func (k *serverCounters) publish() {
	t := &k.tally
	for m := t.dirtyReqs; m != 0; m &= m - 1 {
		i := bits.TrailingZeros8(m)
		k.requests[i].Store(t.requests[i])
	}
	for m := t.dirtyBuckets; m != 0; m &= m - 1 {
		i := bits.TrailingZeros32(m)
		k.buckets[i].Store(t.buckets[i])
	}
	if t.dirtySum {
		k.sum.Store(t.sum)
	}
	t.dirtyReqs, t.dirtyBuckets, t.dirtySum = 0, 0, false
}

// load adds the published figures to st.
func (k *serverCounters) load(st *ServerStats) {
	for i := range st.Requests {
		st.Requests[i] += k.requests[i].Load()
	}
	for i := range st.Duration.Counts {
		st.Duration.Counts[i] += k.buckets[i].Load()
	}
	st.Duration.Sum += time.Duration(k.sum.Load())
}

// keepListener adds ln to the listeners whose figures Stats sums.
func (s *Server) keepListener(ln *evnet.Listener) {
	s.mu.Lock()
	s.lns = append(s.lns, ln)
	s.mu.Unlock()
}

// Stats returns the server's figures so far, on all its loops. It may be
// called from any goroutine, and never stops or locks a loop: it reads
// atomics that each loop updates as its requests end (at the end of the
// callback that ended them, as Served), and takes the Server's own mutex,
// briefly, for the list of its listeners.
func (s *Server) Stats() ServerStats {
	var st ServerStats
	if p := s.states.Load(); p != nil {
		for _, ls := range *p {
			ls.st.load(&st)
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
