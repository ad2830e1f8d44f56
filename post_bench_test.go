//go:build linux

package eddy

import (
	"slices"
	"testing"
	"time"

	"github.com/eddyloop/eddy/internal/poller"
)

// benchRunningLoop starts a loop sleeping in Run on its own goroutine, kept
// alive by an Async, and returns it with a function that stops it and
// waits for Run to return.
func benchRunningLoop(b *testing.B, goPoller bool) (*Loop, func()) {
	b.Helper()
	be, err := poller.NewEpoll()
	if err != nil {
		b.Fatal(err)
	}
	l, err := NewLoop(&Config{Backend: be, GoPoller: goPoller})
	if err != nil {
		b.Fatal(err)
	}
	keep := new(Async)
	keep.Init(func(*Async) {})
	keep.Start(l)
	done := make(chan error, 1)
	go func() { done <- l.Run() }()
	return l, func() {
		l.Post(keep.Stop)
		if err := <-done; err != nil {
			b.Error(err)
		}
		l.Close()
	}
}

// BenchmarkPostLatency measures how long a function posted from another
// goroutine takes to start running on a loop that sleeps in Run: one Post
// at a time, each waiting for the previous to have run, so that most find
// the loop asleep. It reports the median and the 99th percentile, with the
// loop sleeping in the backend's wait and parked in Go's poller.
func BenchmarkPostLatency(b *testing.B) {
	for _, gp := range []bool{false, true} {
		name := "default"
		if gp {
			name = "gopoller"
		}
		b.Run(name, func(b *testing.B) {
			l, stop := benchRunningLoop(b, gp)
			defer stop()
			lat := make([]time.Duration, 0, b.N)
			ack := make(chan struct{})
			var t0 time.Time
			f := func() {
				lat = append(lat, time.Since(t0))
				ack <- struct{}{}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				t0 = time.Now()
				l.Post(f)
				<-ack
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
			b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
		})
	}
}

// BenchmarkPostBatched posts b.N functions from one goroutine as fast as it
// can while the loop drains them, and reports the throughput.
func BenchmarkPostBatched(b *testing.B) {
	l, stop := benchRunningLoop(b, false)
	defer stop()
	ran := 0
	done := make(chan struct{})
	n := b.N
	f := func() {
		ran++
		if ran == n {
			close(done)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for range n {
		l.Post(f)
	}
	<-done
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(n)/el.Seconds(), "posts/s")
}
