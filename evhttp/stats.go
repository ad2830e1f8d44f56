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
// publishes what changed at the end of the batch (publish), as it does
// Served: one store for a batch of pipelined requests of the same class,
// where an atomic addition per request would cost several per request.
// The requests that took at most 1µs (most: those answered in the loop
// iteration that read them) are not tallied apart: they are the requests
// over (Served) less the others, which keeps observe to an increment.
type serverCounters struct {
	_        cpu.CacheLinePad
	requests [6]atomic.Uint64
	buckets  [eddy.HistogramBuckets]atomic.Uint64 // the first unused: see load
	sum      atomic.Int64
	_        cpu.CacheLinePad

	// The tallies, and which changed since the last publish. Loop
	// goroutine only.
	tally struct {
		requests     [8]uint64 // by class; 6 and 7 unused
		buckets      [eddy.HistogramBuckets]uint64
		sum          int64
		dirtyClasses uint8
		dirtyBuckets uint32
	}
}

// statusClass returns the class of x's status, for ServerStats.Requests:
// 1 to 5 for 1xx to 5xx, 0 for none.
func (x *exchange) statusClass() uint {
	if s := uint(x.w.status) - 100; x.flags&xHeadSent != 0 && s < 500 {
		return s/100 + 1
	}
	return 0
}

// observe tallies an exchange over, of status class class (statusClass),
// that took d nanoseconds of the loop server's clock (0 for none).
func (k *serverCounters) observe(class uint, d int64) {
	t := &k.tally
	t.requests[class&7]++
	t.dirtyClasses |= 1 << (class & 7)
	if d > int64(time.Microsecond) {
		k.observeLong(time.Duration(d))
	}
}

// observeLong tallies a request duration longer than 1µs.
func (k *serverCounters) observeLong(d time.Duration) {
	t := &k.tally
	b := eddy.HistogramBucket(d)
	t.buckets[b]++
	t.dirtyBuckets |= 1 << b
	t.sum += int64(d)
}

// publish stores the tallies that changed since the last call.
func (k *serverCounters) publish() {
	if k.tally.dirtyClasses != 0 { // else no bucket changed either
		k.store()
	}
}

// store is publish's work, when a tally changed.
func (k *serverCounters) store() {
	t := &k.tally
	for m := t.dirtyClasses; m != 0; m &= m - 1 {
		i := bits.TrailingZeros8(m)
		k.requests[i%6].Store(t.requests[i])
	}
	for m := t.dirtyBuckets; m != 0; m &= m - 1 {
		i := bits.TrailingZeros32(m)
		k.buckets[i%eddy.HistogramBuckets].Store(t.buckets[i%eddy.HistogramBuckets])
	}
	if t.dirtyBuckets != 0 {
		k.sum.Store(t.sum)
	}
	t.dirtyClasses, t.dirtyBuckets = 0, 0
}

// load adds the figures published by the loop server ls to st.
func (k *serverCounters) load(st *ServerStats, ls *loopServer) {
	for i := range st.Requests {
		st.Requests[i] += k.requests[i].Load()
	}
	var long uint64
	for i := 1; i < len(st.Duration.Counts); i++ {
		n := k.buckets[i].Load()
		st.Duration.Counts[i] += n
		long += n
	}
	st.Duration.Sum += time.Duration(k.sum.Load())
	// Read after the buckets, published after it: never fewer.
	st.Duration.Counts[0] += ls.served.Load() - min(long, ls.served.Load())
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
			ls.st.load(&st, ls)
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
