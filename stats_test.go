package eddy_test

import (
	"sync"
	"testing"
	"time"

	"github.com/eddyloop/eddy"
)

// TestStatsLag checks the lag histogram on the fake clock: a callback
// that runs 50ms makes the timer due meanwhile fire 40ms late, and the
// timers on time count in the first bucket.
func TestStatsLag(t *testing.T) {
	l, be, c := newFake(t)
	var fired int
	tm := eddy.NewTimer(func(*eddy.Timer) { fired++ }, 10*time.Millisecond, 0)
	tm.Start(l)
	slow := eddy.NewIO(func(w *eddy.IO, _ eddy.Events) {
		c.Advance(50 * time.Millisecond) // a callback that blocks the loop
		w.Stop()
	}, 4, eddy.Read)
	must(t, slow.Start(l))
	be.Ready(4, eddy.Read)
	must(t, l.RunOnce()) // the slow callback
	must(t, l.RunOnce()) // the timer, 40ms late
	if fired != 1 {
		t.Fatalf("timer fired %d times, want 1", fired)
	}
	on := eddy.NewTimer(func(*eddy.Timer) {}, time.Second, 0)
	on.Start(l)
	must(t, l.RunOnce()) // on time: the fake wait ends at the deadline
	s := l.Stats()
	var want eddy.Histogram
	want.Counts[0] = 1
	want.Counts[16] = 1 // 40ms: above 32.768ms, at most 65.536ms
	want.Sum = 40 * time.Millisecond
	if s.Lag != want {
		t.Errorf("Lag = %+v,\nwant %+v", s.Lag, want)
	}
	if s.LongIterations != 0 {
		t.Errorf("LongIterations = %d, want 0 (50ms < SlowCallback's 100ms)", s.LongIterations)
	}
}

// TestStatsLongIterations counts the iterations whose callbacks ran over
// SlowCallback, and (callbacks timed) the callbacks that did.
func TestStatsLongIterations(t *testing.T) {
	l, be, c := newFake(t) // debug mode: callbacks timed
	io := eddy.NewIO(func(*eddy.IO, eddy.Events) { c.Advance(60 * time.Millisecond) }, 4, eddy.Read)
	must(t, io.Start(l))
	io2 := eddy.NewIO(func(*eddy.IO, eddy.Events) { c.Advance(60 * time.Millisecond) }, 5, eddy.Read)
	must(t, io2.Start(l))
	be.Ready(4, eddy.Read)
	be.Ready(5, eddy.Read)
	must(t, l.RunOnce()) // two callbacks of 60ms: one long iteration, no slow callback
	be.Clear(5, eddy.Read)
	must(t, l.RunOnce()) // 60ms: neither
	slow := eddy.NewIO(func(*eddy.IO, eddy.Events) { c.Advance(150 * time.Millisecond) }, 6, eddy.Read)
	must(t, slow.Start(l))
	be.Ready(6, eddy.Read)
	be.Clear(4, eddy.Read)
	must(t, l.RunOnce()) // 150ms: both
	s := l.Stats()
	if s.LongIterations != 2 || s.SlowCallbacks != 1 || s.LongestCallback != 150*time.Millisecond {
		t.Errorf("LongIterations %d SlowCallbacks %d LongestCallback %v, want 2, 1, 150ms",
			s.LongIterations, s.SlowCallbacks, s.LongestCallback)
	}
	io.Stop()
	io2.Stop()
	slow.Stop()
}

// TestStatsConcurrent reads Stats from another goroutine while the loop
// runs (for the race detector), and sees the figures grow.
func TestStatsConcurrent(t *testing.T) {
	l := newReal(t)
	var tm eddy.Timer
	n := 0
	tm.Init(func(t *eddy.Timer) {
		if n++; n == 200 {
			t.Stop()
		}
	}, 0, time.Microsecond)
	tm.Start(l)
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Go(func() {
		var last uint64
		for {
			s := l.Stats()
			if s.Iterations < last {
				t.Errorf("Iterations went back from %d to %d", last, s.Iterations)
			}
			last = s.Iterations
			select {
			case <-done:
				return
			default:
			}
		}
	})
	must(t, l.Run())
	close(done)
	wg.Wait()
	if s := l.Stats(); s.Iterations < 200 || s.Lag.Count() < 1 || s.Lag.Count() > 200 {
		t.Errorf("after 200 timer callbacks: Iterations %d, lag samples %d", s.Iterations, s.Lag.Count())
	}
}

// TestHistogramBuckets checks the bucket bounds and which bucket a sample
// falls in, at the edges.
func TestHistogramBuckets(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want int
	}{
		{-time.Second, 0}, {0, 0}, {1, 0}, {time.Microsecond, 0},
		{time.Microsecond + 1, 1}, {2 * time.Microsecond, 1}, {2*time.Microsecond + 1, 2},
		{4 * time.Microsecond, 2}, {1023 * time.Microsecond, 10}, {1024 * time.Microsecond, 10},
		{1025 * time.Microsecond, 11}, {eddy.HistogramBound(22), 22},
		{eddy.HistogramBound(22) + 1, 23}, {time.Hour, 23}, {1<<63 - 1, 23},
	} {
		var r eddy.HistogramRecorder
		r.Observe(tc.d)
		h := r.Snapshot()
		if h.Counts[tc.want] != 1 || h.Count() != 1 {
			t.Errorf("Observe(%v): counts %v, want 1 in bucket %d", tc.d, h.Counts, tc.want)
		}
		if i := tc.want; tc.d > 0 && (tc.d > eddy.HistogramBound(i) || i > 0 && tc.d <= eddy.HistogramBound(i-1)) {
			t.Errorf("%v is not in (%v, %v]", tc.d, eddy.HistogramBound(i-1), eddy.HistogramBound(i))
		}
	}
	if b := eddy.HistogramBound(22); b != 4194304*time.Microsecond {
		t.Errorf("HistogramBound(22) = %v", b)
	}
	var h, o eddy.Histogram
	o.Counts[3], o.Sum = 2, time.Second
	h.Add(&o)
	h.Add(&o)
	if h.Count() != 4 || h.Sum != 2*time.Second {
		t.Errorf("Add twice: %+v", h)
	}
}
