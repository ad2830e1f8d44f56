package eddy

import (
	"math/rand/v2"
	"testing"
	"time"
)

// The timer benchmarks keep a million timers active, as a server with a
// million idle connections would, each with a deadline between one and two
// hours away, and measure one operation among them. The random delays are
// drawn before the clock starts. They run as sub-benchmarks named "1M", which
// sets them apart from the small-heap benchmarks of the same names in
// timer_test.go (package eddy_test).
const (
	benchTimers = 1_000_000
	benchDelays = 1 << 16 // pre-drawn delays, reused round-robin
)

func benchRandomDelays() []time.Duration {
	r := rand.New(rand.NewPCG(1, 2))
	d := make([]time.Duration, benchDelays)
	for i := range d {
		d[i] = time.Hour + time.Duration(r.Int64N(int64(time.Hour)))
	}
	return d
}

// benchTimerLoop returns a loop holding benchTimers active timers.
func benchTimerLoop(b *testing.B, delays []time.Duration) (*Loop, []Timer) {
	b.Helper()
	l, err := NewLoop(nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	timers := make([]Timer, benchTimers)
	nop := func(*Timer) {}
	r := rand.New(rand.NewPCG(3, 4))
	for i := range timers {
		d := delays[r.IntN(len(delays))]
		timers[i].Init(nop, d, d)
		timers[i].Start(l)
	}
	return l, timers
}

// BenchmarkTimerStartStop starts and stops one timer among a million
// active ones: the cost of arming and cancelling a per-request timeout.
func BenchmarkTimerStartStop(b *testing.B) {
	b.Run("1M", func(b *testing.B) {
		delays := benchRandomDelays()
		l, _ := benchTimerLoop(b, delays)
		var t Timer
		t.Init(func(*Timer) {}, 0, 0)
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			t.Set(delays[i&(benchDelays-1)], 0)
			t.Start(l)
			t.Stop()
		}
	})
}

// BenchmarkStdlibAfterFuncStop is BenchmarkTimerStartStop with the
// standard library's timers: time.AfterFunc and Stop among a million
// active AfterFunc timers.
func BenchmarkStdlibAfterFuncStop(b *testing.B) {
	b.Run("1M", func(b *testing.B) {
		delays := benchRandomDelays()
		timers := make([]*time.Timer, benchTimers)
		f := func() {}
		r := rand.New(rand.NewPCG(3, 4))
		for i := range timers {
			timers[i] = time.AfterFunc(delays[r.IntN(len(delays))], f)
		}
		b.Cleanup(func() {
			for _, t := range timers {
				t.Stop()
			}
		})
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			t := time.AfterFunc(delays[i&(benchDelays-1)], f)
			t.Stop()
		}
	})
}

// BenchmarkTimerAgain pushes the deadline of one of a million active timers
// forward, as an idle timeout does on every bit of activity.
func BenchmarkTimerAgain(b *testing.B) {
	b.Run("1M", func(b *testing.B) {
		delays := benchRandomDelays()
		_, timers := benchTimerLoop(b, delays)
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			t := &timers[i%benchTimers]
			t.SetRepeat(delays[i&(benchDelays-1)])
			t.Again()
		}
	})
}

// BenchmarkStdlibTimerReset is BenchmarkTimerAgain with the standard
// library: Reset of one of a million active AfterFunc timers.
func BenchmarkStdlibTimerReset(b *testing.B) {
	b.Run("1M", func(b *testing.B) {
		delays := benchRandomDelays()
		timers := make([]*time.Timer, benchTimers)
		f := func() {}
		r := rand.New(rand.NewPCG(3, 4))
		for i := range timers {
			timers[i] = time.AfterFunc(delays[r.IntN(len(delays))], f)
		}
		b.Cleanup(func() {
			for _, t := range timers {
				t.Stop()
			}
		})
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			timers[i%benchTimers].Reset(delays[i&(benchDelays-1)])
		}
	})
}

// BenchmarkTimerFire measures a timer's whole life when it expires: start
// with no delay, expire, run the callback. Each RunNoWait expires a batch of
// 1,000; an op is one timer.
func BenchmarkTimerFire(b *testing.B) {
	const batch = 1000
	l, err := NewLoop(nil)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	fired := 0
	timers := make([]Timer, batch)
	for i := range timers {
		timers[i].Init(func(*Timer) { fired++ }, 0, 0)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; n += batch {
		k := min(batch, b.N-n)
		for i := range k {
			timers[i].Start(l)
		}
		if err := l.RunNoWait(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if fired != b.N {
		b.Fatalf("%d timers fired, want %d", fired, b.N)
	}
}
