//go:build linux

package eddy

import (
	"os"
	"strconv"
	"testing"

	"github.com/eddyloop/eddy/internal/poller"
	"golang.org/x/sys/unix"
)

// benchRaiseNofile makes room for want more descriptors: it raises the soft
// RLIMIT_NOFILE to the hard limit, and the hard limit too if the process
// may (CAP_SYS_RESOURCE). It skips the benchmark, saying why, when the
// limit stays too low.
func benchRaiseNofile(b *testing.B, want uint64) {
	b.Helper()
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		b.Fatalf("getrlimit: %v", err)
	}
	old := lim
	need := want + 64 // what the test binary and the runtime hold already
	if lim.Cur >= need {
		return
	}
	if lim.Max < need {
		raised := unix.Rlimit{Cur: need, Max: need}
		if unix.Setrlimit(unix.RLIMIT_NOFILE, &raised) == nil {
			b.Cleanup(func() { unix.Setrlimit(unix.RLIMIT_NOFILE, &old) })
			return
		}
	}
	lim.Cur = lim.Max
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		b.Fatalf("setrlimit: %v", err)
	}
	b.Cleanup(func() { unix.Setrlimit(unix.RLIMIT_NOFILE, &old) })
	if lim.Cur < need {
		b.Skipf("RLIMIT_NOFILE hard limit is %d and cannot be raised; this benchmark needs %d descriptors: raise it (ulimit -Hn), or set EDDY_BENCH_PIPES to fewer pipes", lim.Max, need)
	}
}

// BenchmarkIODispatch measures the loop's cost per ready descriptor: 10,000
// pipes watched for Read by level-triggered IO watchers whose callbacks do
// not read, 100 of them ready (so they stay ready); an op is one RunNoWait
// iteration, which dispatches the 100. The environment variable
// EDDY_BENCH_PIPES sets another number of pipes, for machines whose
// descriptor limit cannot be raised to 20,000.
func BenchmarkIODispatch(b *testing.B) {
	const ready = 100
	pipes := 10_000
	if s := os.Getenv("EDDY_BENCH_PIPES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < ready {
			b.Fatalf("EDDY_BENCH_PIPES=%q: want a number of pipes, at least %d", s, ready)
		}
		pipes = n
	}
	for _, bc := range []struct {
		name string
		mk   func() (poller.Poller, error)
	}{{"epoll", poller.NewEpoll}, {"poll", poller.NewPoll}} {
		b.Run(bc.name, func(b *testing.B) {
			benchRaiseNofile(b, uint64(2*pipes))
			be, err := bc.mk()
			if err != nil {
				b.Fatal(err)
			}
			l, err := NewLoop(&Config{Backend: be})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			fds := make([]int, 0, 2*pipes)
			defer func() {
				for _, fd := range fds {
					unix.Close(fd)
				}
			}()
			watchers := make([]IO, pipes)
			calls := 0
			cb := func(*IO, Events) { calls++ }
			for i := range watchers {
				var p [2]int
				if err := unix.Pipe2(p[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
					b.Fatalf("pipe %d: %v", i, err)
				}
				fds = append(fds, p[0], p[1])
				watchers[i].Init(cb, p[0], Read)
				if err := watchers[i].Start(l); err != nil {
					b.Fatal(err)
				}
			}
			// Spread the ready ones over the table.
			for k := range ready {
				i := k * pipes / ready
				if _, err := unix.Write(fds[2*i+1], []byte{1}); err != nil {
					b.Fatal(err)
				}
			}
			if err := l.RunNoWait(); err != nil { // warm up
				b.Fatal(err)
			}
			calls = 0
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if err := l.RunNoWait(); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if calls != b.N*ready {
				b.Fatalf("%d callbacks in %d iterations, want %d", calls, b.N, b.N*ready)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/ready, "ns/event")
			b.ReportMetric(float64(pipes), "pipes")
		})
	}
}

// BenchmarkPingPong bounces one byte between the two ends of a socket pair
// inside one loop, so that every op is one event taken through a full
// iteration and wait: the events per second of the loop's wait path, with
// the backend's own wait and parked in Go's runtime poller (GoPoller).
func BenchmarkPingPong(b *testing.B) {
	for _, mode := range []struct {
		name string
		gp   bool
	}{{"default", false}, {"gopoller", true}} {
		b.Run(mode.name, func(b *testing.B) {
			l, err := NewLoop(&Config{GoPoller: mode.gp})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				b.Fatal(err)
			}
			defer unix.Close(fds[0])
			defer unix.Close(fds[1])
			var one, buf [1]byte
			n := 0
			bounce := func(w *IO, _ Events) {
				unix.Read(w.Fd(), buf[:])
				if n++; n >= b.N {
					l.Break(BreakAll)
					return
				}
				unix.Write(w.Fd(), one[:])
			}
			var x, y IO
			x.Init(bounce, fds[0], Read)
			y.Init(bounce, fds[1], Read)
			if err := x.Start(l); err != nil {
				b.Fatal(err)
			}
			if err := y.Start(l); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			unix.Write(fds[0], one[:])
			if err := l.Run(); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
