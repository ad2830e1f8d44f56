package eddy

// A loop's figures: Stats, what the loop keeps of them for other
// goroutines (loopCounters), and the duration histograms of the loop's lag
// and of other layers' latencies (Histogram, HistogramRecorder).

import (
	"math/bits"
	"sync/atomic"
	"time"

	"golang.org/x/sys/cpu"
)

// Stats are a loop's counters, as returned by Loop.Stats.
type Stats struct {
	// Iterations counts completed loop iterations.
	Iterations uint64
	// Callbacks counts callbacks invoked.
	Callbacks uint64
	// IOEvents counts readiness events taken from the backend.
	IOEvents uint64
	// Wakeups counts cross-goroutine wake-ups issued by Post, Wake and Async.Send.
	Wakeups uint64
	// WaitTime is the total time spent in the backend's wait.
	WaitTime time.Duration
	// RunTime is the total time spent outside the wait: running callbacks
	// and the loop's own work.
	RunTime time.Duration
	// LongIterations counts the iterations whose run phase (RunTime's
	// share of them) took longer than Config.SlowCallback: the loop was
	// that long unable to notice new events. It costs nothing to keep (the
	// loop reads the clock at both ends of the phase anyway), and says
	// that some callback ran long without saying which; SlowCallbacks
	// does, at a price.
	LongIterations uint64
	// CallbackTime and LongestCallback are the total and the longest
	// duration of a callback, and SlowCallbacks counts the callbacks that
	// took longer than Config.SlowCallback; they are measured only with
	// Config.TimeCallbacks or Config.Debug, and are zero otherwise.
	CallbackTime    time.Duration
	LongestCallback time.Duration
	SlowCallbacks   uint64
	// Lag is the loop's lag, as Node's monitorEventLoopDelay measures it:
	// how late timers are seen to expire. Each iteration in which timers
	// (Timers or Periodics) expire adds one sample: the time from the
	// deadline of the earliest to the loop time of the iteration (the
	// others were due later). A loop whose callbacks run long, or which has
	// more to do than it can, sees its timers late. A loop without timers
	// has no samples: start a repeating Timer (it may do nothing, and be
	// Unref'd) to sample the lag at its interval.
	Lag Histogram
}

// Stats returns the loop's counters. It may be called from any goroutine
// and never stops or slows the loop: the loop publishes its figures in
// atomic variables at the end of each iteration (the lag histogram as each
// sample comes), so what another goroutine gets is as of the last
// iteration that ended. The fields are read one by one, not all at once.
func (l *Loop) Stats() Stats {
	p := &l.pub
	return Stats{
		Iterations:      p.iterations.Load(),
		Callbacks:       p.callbacks.Load(),
		IOEvents:        p.ioEvents.Load(),
		Wakeups:         l.nwake.Load(),
		WaitTime:        time.Duration(p.waitTime.Load()),
		RunTime:         time.Duration(p.runTime.Load()),
		LongIterations:  p.longIterations.Load(),
		CallbackTime:    time.Duration(p.callbackTime.Load()),
		LongestCallback: time.Duration(p.longestCallback.Load()),
		SlowCallbacks:   p.slowCallbacks.Load(),
		Lag:             p.lag.Snapshot(),
	}
}

// loopCounters are the figures of Stats as other goroutines read them:
// atomics, written by the loop's goroutine only, on cache lines of their
// own so that the loops of a group, each on its core, never share one.
type loopCounters struct {
	_                               cpu.CacheLinePad
	iterations, callbacks, ioEvents atomic.Uint64
	waitTime, runTime               atomic.Int64
	longIterations                  atomic.Uint64
	callbackTime, longestCallback   atomic.Int64
	slowCallbacks                   atomic.Uint64
	lag                             HistogramRecorder
	_                               cpu.CacheLinePad
}

// publish copies the loop's figures to l.pub, at the end of an iteration:
// a store for each that moves in every iteration, the others only when
// they changed.
func (l *Loop) publish() {
	p, s := &l.pub, &l.stats
	p.iterations.Store(s.Iterations)
	p.callbacks.Store(s.Callbacks)
	p.ioEvents.Store(s.IOEvents)
	p.waitTime.Store(int64(s.WaitTime))
	p.runTime.Store(int64(s.RunTime))
	if p.longIterations.Load() != s.LongIterations {
		p.longIterations.Store(s.LongIterations)
	}
	if l.timeCalls {
		p.callbackTime.Store(int64(s.CallbackTime))
		p.longestCallback.Store(int64(s.LongestCallback))
		p.slowCallbacks.Store(s.SlowCallbacks)
	}
}

// HistogramBuckets is the number of buckets of a Histogram.
const HistogramBuckets = 24

// HistogramBound returns the upper bound (inclusive) of bucket i of a
// Histogram: 1µs for the first, twice the bound before for each next one
// (2µs, 4µs ... 4.194304s), and the largest Duration for the last, which
// takes everything longer.
func HistogramBound(i int) time.Duration {
	if i >= HistogramBuckets-1 {
		return time.Duration(1<<63 - 1)
	}
	return time.Microsecond << i
}

// HistogramBucket returns the bucket of a Histogram that counts d: the
// first whose bound is at least d (see HistogramBound). Buckets double from
// 1µs, so it is a bit length, not a search.
func HistogramBucket(d time.Duration) int {
	if d <= time.Microsecond {
		return 0
	}
	return min(bits.Len64(uint64(d-1)/uint64(time.Microsecond)), HistogramBuckets-1)
}

// Histogram is a snapshot of a distribution of durations, in buckets of
// doubling width (see HistogramBound): what Prometheus calls a histogram.
type Histogram struct {
	// Counts[i] counts the samples of bucket i: at most HistogramBound(i),
	// and more than HistogramBound(i-1). They are not cumulative.
	Counts [HistogramBuckets]uint64
	// Sum is the total of the samples.
	Sum time.Duration
}

// Count returns the number of samples.
func (h *Histogram) Count() uint64 {
	var n uint64
	for _, c := range h.Counts {
		n += c
	}
	return n
}

// Add adds the samples of o to h: the histogram of several loops, say.
func (h *Histogram) Add(o *Histogram) {
	for i, c := range o.Counts {
		h.Counts[i] += c
	}
	h.Sum += o.Sum
}

// HistogramRecorder keeps a Histogram that one goroutine at a time (a
// loop's, say) writes with Observe while any goroutine may take a Snapshot:
// atomics, no lock. Observe costs two atomic additions and allocates
// nothing. The zero value is an empty histogram, ready to use; it must not
// be copied after first use.
type HistogramRecorder struct {
	counts [HistogramBuckets]atomic.Uint64
	sum    atomic.Int64
}

// Observe adds the sample d (negative counts as zero).
func (r *HistogramRecorder) Observe(d time.Duration) {
	d = max(d, 0)
	r.counts[HistogramBucket(d)].Add(1)
	r.sum.Add(int64(d))
}

// Snapshot returns the histogram so far. It may be called from any
// goroutine; the buckets are read one by one, not all at once.
func (r *HistogramRecorder) Snapshot() Histogram {
	var h Histogram
	for i := range r.counts {
		h.Counts[i] = r.counts[i].Load()
	}
	h.Sum = time.Duration(r.sum.Load())
	return h
}
