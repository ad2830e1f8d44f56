//go:build linux

package eddy

import (
	"bytes"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/eddyloop/eddy/internal/testutil"
)

// procCPUTicks returns the process's user plus system CPU time, in clock
// ticks, from fields 14 (utime) and 15 (stime) of /proc/self/stat.
func procCPUTicks(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		t.Skipf("no /proc/self/stat: %v", err)
	}
	// Field 2, the command name, is in parentheses and may hold spaces:
	// count fields from the last ')', which ends field 2.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		t.Fatalf("malformed /proc/self/stat: %q", b)
	}
	f := bytes.Fields(b[i+1:]) // f[0] is field 3
	if len(f) < 13 {
		t.Fatalf("short /proc/self/stat: %q", b)
	}
	var sum int64
	for _, s := range f[11:13] { // fields 14 and 15
		n, err := strconv.ParseInt(string(s), 10, 64)
		if err != nil {
			t.Fatalf("/proc/self/stat field %q: %v", s, err)
		}
		sum += n
	}
	return sum
}

// TestIdleCPU measures the CPU time a loop uses while it sleeps in Run with
// 1,000 timers an hour away: it must use next to none. It measures for
// EDDY_IDLE_SECONDS seconds (default 1; set 10 for the published figure),
// once with the backend's own wait and once with GoPoller. The test
// binary's other goroutines are idle meanwhile, so the process's CPU time
// is the loop's (plus the Go runtime's own background work).
func TestIdleCPU(t *testing.T) {
	secs := 1.0
	if s := os.Getenv("EDDY_IDLE_SECONDS"); s != "" {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || v <= 0 {
			t.Fatalf("EDDY_IDLE_SECONDS=%q: want a positive number of seconds", s)
		}
		secs = v
	}
	for _, name := range []string{"backend-wait", "gopoller", "hold"} {
		t.Run(name, func(t *testing.T) {
			l := idleLoop(t, name)
			timers := make([]Timer, 1000)
			for i := range timers {
				timers[i].Init(func(*Timer) { t.Error("a timer an hour away fired") },
					time.Hour+time.Duration(i)*time.Millisecond, 0)
				timers[i].Start(l)
			}
			done := make(chan error, 1)
			go func() { done <- l.Run() }()
			if !testutil.Eventually(5*time.Second, l.sleeping.Load) {
				t.Fatal("the loop did not go to sleep")
			}
			// The loop says it sleeps just before its wait; what the
			// runtime does around a goroutine going to sleep (the monitor
			// taking the processor from a thread blocked in epoll_wait, a
			// parked goroutine's handoff) takes up to a few milliseconds
			// more; a loop that holds its processor (Config.HoldProcessor)
			// waits once more, in the kernel, when the runtime preempts its
			// held wait after about 10ms. Start measuring once that
			// transition is over: this is a wait on real time, since the
			// transition is the runtime's and announces nothing.
			time.Sleep(100 * time.Millisecond)
			// Asleep again (after the held wait's last iteration, if any):
			// the flag's load orders the read of the count after the loop's
			// last write of it.
			if !testutil.Eventually(5*time.Second, l.sleeping.Load) {
				t.Fatal("the loop did not go back to sleep")
			}
			iters := l.stats.Iterations
			before := procCPUTicks(t)
			// The measurement itself: idle CPU is what a process uses while
			// real time passes.
			time.Sleep(time.Duration(secs * float64(time.Second)))
			ticks := procCPUTicks(t) - before
			woke := l.stats.Iterations - iters
			l.Post(func() {
				for i := range timers {
					timers[i].Stop()
				}
			})
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			limit := 1 + int64(secs/5)
			t.Logf("%s: %d CPU ticks (1 tick = 10ms at USER_HZ 100) in %.1fs idle, %d loop iterations; limit %d",
				name, ticks, secs, woke, limit)
			if ticks > limit {
				t.Errorf("an idle loop used %d CPU ticks in %.1fs, want at most %d", ticks, secs, limit)
			}
			if woke > 0 {
				t.Errorf("an idle loop ran %d iterations in %.1fs, want none", woke, secs)
			}
		})
	}
}

// idleLoop returns a loop for TestIdleCPU's case name, closed when the
// test ends: "gopoller" (Config.GoPoller), "hold" (Config.HoldProcessor),
// or the default.
func idleLoop(t *testing.T, name string) *Loop {
	if name == "gopoller" {
		return goPollerLoop(t)
	}
	l, err := NewLoop(&Config{HoldProcessor: name == "hold"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}
