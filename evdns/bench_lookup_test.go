package evdns

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
	"golang.org/x/sys/unix"

	"github.com/eddyloop/eddy"
)

// benchConcurrent is the number of lookups in flight at once in
// BenchmarkLookup10k: issue 4's figure.
const benchConcurrent = 10000

// goroutineSampler records the peak of runtime.NumGoroutine, sampled
// every 200µs, from start until stop.
type goroutineSampler struct {
	peak atomic.Int64
	quit chan struct{}
	done chan struct{}
}

func startSampler() *goroutineSampler {
	s := &goroutineSampler{quit: make(chan struct{}), done: make(chan struct{})}
	s.peak.Store(int64(runtime.NumGoroutine()))
	go func() {
		defer close(s.done)
		t := time.NewTicker(200 * time.Microsecond)
		defer t.Stop()
		for {
			if n := int64(runtime.NumGoroutine()); n > s.peak.Load() {
				s.peak.Store(n)
			}
			select {
			case <-s.quit:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *goroutineSampler) stop() int64 {
	close(s.quit)
	<-s.done
	return s.peak.Load()
}

// cpuTimes returns the CPU time (user + system) used so far by this
// process and by the process pid (read from /proc; zero where it cannot
// be read).
func cpuTimes(pid int) (self, other time.Duration) {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) == nil {
		self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return self, 0
	}
	// The fields after the command name, which is in parentheses:
	// utime and stime are the 12th and 13th of them, in clock ticks
	// (USER_HZ, 100 on Linux).
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) > 12 {
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		other = time.Duration(ut+st) * 10 * time.Millisecond
	}
	return self, other
}

// cpuMeter adds up the CPU time of this process and of the DNS server
// over the timed parts of a benchmark.
type cpuMeter struct {
	pid                   int
	self, server          time.Duration
	startSelf, startOther time.Duration
}

func (m *cpuMeter) start() { m.startSelf, m.startOther = cpuTimes(m.pid) }

func (m *cpuMeter) stop() {
	s, o := cpuTimes(m.pid)
	m.self += s - m.startSelf
	m.server += o - m.startOther
}

// report adds the per-query CPU metrics: this process's (the client's,
// sampler included) and the server's.
func (m *cpuMeter) report(b *testing.B, queries int) {
	b.ReportMetric(float64(m.self.Microseconds())/float64(queries), "client-CPU-µs/query")
	b.ReportMetric(float64(m.server.Microseconds())/float64(queries), "server-CPU-µs/query")
}

// BenchmarkLookup10k starts 10,000 concurrent uncached A lookups (unique
// names under bench.zone.test, which the local dnsmasq answers with a
// wildcard address) per iteration: evdns on one loop with no cache, its
// default limit of queries in flight (the other lookups wait in its queue)
// and, to show what the limit buys, a smaller one; beside Go's pure Go
// net.Resolver with one goroutine per lookup, dialling the same dnsmasq.
// It reports queries/s, the peak number of goroutines
// (runtime.NumGoroutine, sampler included), and the CPU time per query of
// the client (this process) and of dnsmasq.
func BenchmarkLookup10k(b *testing.B) {
	addr, pid := startDnsmasqPid(b)
	iter := 0
	names := func() []string {
		iter++
		n := make([]string, benchConcurrent)
		for i := range n {
			n[i] = fmt.Sprintf("n%d-%d.bench.zone.test.", iter, i)
		}
		return n
	}
	for _, inflight := range []int{DefaultMaxInFlight, 32} {
		b.Run(fmt.Sprintf("evdns/inflight=%d", inflight), func(b *testing.B) { benchEvdns(b, addr, pid, names, inflight) })
	}
	b.Run("net.Resolver", func(b *testing.B) {
		nr := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr.String())
		}}
		var failed atomic.Int64
		var firstErr atomic.Value
		var elapsed time.Duration
		var peak int64
		m := cpuMeter{pid: pid}
		b.ResetTimer()
		for range b.N {
			b.StopTimer()
			ns := names()
			b.StartTimer()
			s := startSampler()
			m.start()
			start := time.Now()
			var wg sync.WaitGroup
			for _, name := range ns {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if _, err := nr.LookupNetIP(context.Background(), "ip4", name); err != nil {
						failed.Add(1)
						firstErr.CompareAndSwap(nil, err)
					}
				}()
			}
			wg.Wait()
			elapsed += time.Since(start)
			m.stop()
			peak = max(peak, s.stop())
		}
		b.ReportMetric(float64(benchConcurrent*b.N)/elapsed.Seconds(), "queries/s")
		b.ReportMetric(float64(peak), "peak-goroutines")
		m.report(b, benchConcurrent*b.N)
		if n := failed.Load(); n > 0 {
			b.Errorf("%d lookups failed, the first: %v", n, firstErr.Load())
		}
	})
}

// benchEvdns is the evdns half of BenchmarkLookup10k: all the lookups
// started at once on one loop, at most inflight queries in flight (the
// others wait in the resolver's queue).
func benchEvdns(b *testing.B, addr netip.AddrPort, pid int, names func() []string, inflight int) {
	l, err := eddy.NewLoop(nil)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	r := NewResolver(l, testConfig(2*time.Second, 2, addr), nil,
		&ResolverConfig{CacheSize: -1, MaxInFlight: inflight})
	defer r.Close()
	failed := 0
	cb := func(a *Answer, err error) {
		if err != nil {
			failed++
		}
	}
	var elapsed time.Duration
	var peak int64
	m := cpuMeter{pid: pid}
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		ns := names()
		b.StartTimer()
		s := startSampler()
		m.start()
		start := time.Now()
		for _, name := range ns {
			r.Lookup(name, dnsmessage.TypeA, cb)
		}
		if err := l.Run(); err != nil {
			b.Fatal(err)
		}
		elapsed += time.Since(start)
		m.stop()
		peak = max(peak, s.stop())
	}
	b.ReportMetric(float64(benchConcurrent*b.N)/elapsed.Seconds(), "queries/s")
	b.ReportMetric(float64(peak), "peak-goroutines")
	m.report(b, benchConcurrent*b.N)
	b.ReportMetric(float64(r.Stats().Timeouts)/float64(b.N), "timeouts/op")
	if failed > 0 {
		b.Errorf("%d lookups failed; stats %+v", failed, r.Stats())
	}
}
