package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/eddyloop/eddy/internal/testutil"
)

// TestHelloBinary builds the eddy command and runs "eddy hello" as users
// do: it must serve, print its counters, run out of descriptors without
// spinning, and exit 0 on SIGTERM and SIGINT.
func TestHelloBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build with")
	}
	bin := filepath.Join(t.TempDir(), "eddy")
	if out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	t.Run("SIGTERM", func(t *testing.T) {
		p := startBinary(t, bin, "", "-stats", "20ms")
		get(t, p.addr)
		if !testutil.Eventually(5*time.Second, func() bool { return strings.Contains(p.stderr.String(), "accepted, 1 requests") }) {
			t.Errorf("no counters printed:\n%s", p.stderr.String())
		}
		p.stop(t, syscall.SIGTERM, "terminated: stopped after")
	})

	t.Run("SIGINT", func(t *testing.T) {
		p := startBinary(t, bin, "", "-backend", "poll", "-stats", "20ms")
		get(t, p.addr)
		p.waitStats(t, "0 open,")
		c, err := net.Dial("tcp", p.addr) // an idle connection is closed too
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// Signalled only once the server has accepted it: a connection still
		// in the listen backlog when the listener closes is reset by the
		// kernel, not closed by eddy.
		p.waitStats(t, "1 open,")
		p.stop(t, syscall.SIGINT, "interrupt: stopped after")
		if !strings.Contains(p.stderr.String(), "(poll backend)") {
			t.Errorf("-backend poll ignored:\n%s", p.stderr.String())
		}
		if _, err := io.ReadAll(c); err != nil {
			t.Errorf("idle connection: %v, want EOF", err)
		}
	})

	t.Run("OutOfFds", func(t *testing.T) {
		if _, err := os.Stat("/proc/self/stat"); err != nil {
			t.Skip("needs /proc to measure CPU time")
		}
		// 16 descriptors: stdio, the loop's, the listener, and about ten
		// connections.
		p := startBinary(t, bin, "ulimit -n 16")
		const n = 30
		conns := make([]net.Conn, n)
		for i := range conns {
			c, err := net.Dial("tcp", p.addr) // completes in the backlog
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			conns[i] = c
		}
		if !testutil.Eventually(5*time.Second, func() bool { return strings.Contains(p.stderr.String(), "pausing accept") }) {
			t.Fatalf("the server never ran out of descriptors:\n%s", p.stderr.String())
		}
		// Out of descriptors, with connections waiting: the server must
		// sleep between retries, not spin.
		before := cpuTime(t, p.cmd.Process.Pid)
		time.Sleep(500 * time.Millisecond) // CPU use is measured over real time
		if used := cpuTime(t, p.cmd.Process.Pid) - before; used > 150*time.Millisecond {
			t.Errorf("the server used %v of CPU in 500ms while out of descriptors", used)
		}
		// Each client sends a request, reads the answer and closes: as
		// descriptors free up, every waiting connection gets served.
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for _, c := range conns {
			wg.Go(func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				if _, err := io.WriteString(c, getRequest); err != nil {
					errs <- err
					return
				}
				got := make([]byte, len(helloResponse))
				if _, err := io.ReadFull(c, got); err != nil || string(got) != helloResponse {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("client: %v", err)
		}
		if k := strings.Count(p.stderr.String(), "pausing accept"); k != 1 {
			t.Errorf("logged the shortage %d times, want once", k)
		}
		p.stop(t, syscall.SIGTERM, "stopped after")
	})
}

// process is a running "eddy hello".
type process struct {
	cmd    *exec.Cmd
	addr   string
	stderr *syncBuffer
	done   chan struct{} // closed when the process has exited
	err    error         // how it exited, once done is closed
}

// startBinary starts "eddy hello" on a free port, through sh when prefix
// (a shell command such as "ulimit -n 16") is given, and waits until it
// accepts connections. It is killed if it still runs when the test ends.
func startBinary(t *testing.T, bin, prefix string, args ...string) *process {
	t.Helper()
	addr := freeAddr(t)
	args = append([]string{"hello", "-addr", addr}, args...)
	cmd := exec.Command(bin, args...)
	if prefix != "" {
		cmd = exec.Command("/bin/sh", append([]string{"-c", prefix + ` && exec "$0" "$@"`, bin}, args...)...)
	}
	p := &process{cmd: cmd, addr: addr, stderr: new(syncBuffer), done: make(chan struct{})}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		cmd.Process.Kill() // if it still runs
		<-p.done
	})
	ok := testutil.Eventually(10*time.Second, func() bool {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	if !ok {
		t.Fatalf("eddy hello does not accept on %s:\n%s", addr, p.stderr.String())
	}
	return p
}

// stop sends sig and expects a clean exit within 5s, with a last line
// that contains want.
func (p *process) stop(t *testing.T, sig syscall.Signal, want string) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
		if p.err != nil {
			t.Fatalf("eddy hello after %v: %v\n%s", sig, p.err, p.stderr.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("eddy hello still runs 5s after %v:\n%s", sig, p.stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(p.stderr.String()), "\n")
	if last := lines[len(lines)-1]; !strings.Contains(last, want) {
		t.Errorf("last line %q, want it to contain %q", last, want)
	}
}

// waitStats waits until the last counters line printed (by -stats) holds
// want.
func (p *process) waitStats(t *testing.T, want string) {
	t.Helper()
	ok := testutil.Eventually(5*time.Second, func() bool {
		lines := strings.Split(strings.TrimSpace(p.stderr.String()), "\n")
		return strings.Contains(lines[len(lines)-1], want)
	})
	if !ok {
		t.Fatalf("no counters line with %q:\n%s", want, p.stderr.String())
	}
}

// get makes one request with a client of its own, closed afterwards.
func get(t *testing.T, addr string) {
	t.Helper()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || string(body) != helloBody {
		t.Fatalf("GET: %q, %v", body, err)
	}
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// cpuTime returns the user+system CPU time of process pid, from /proc.
func cpuTime(t *testing.T, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the command name (which may hold spaces): state is
	// field 3, utime and stime are fields 14 and 15, in clock ticks.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	utime, _ := strconv.Atoi(f[11])
	stime, _ := strconv.Atoi(f[12])
	const ticksPerSecond = 100 // USER_HZ on every Linux architecture Go runs on
	return time.Duration(utime+stime) * time.Second / ticksPerSecond
}

// syncBuffer is a bytes.Buffer safe to write from the exec package's
// copying goroutine while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
