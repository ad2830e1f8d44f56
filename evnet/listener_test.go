package evnet_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evnet"
	"github.com/eddyloop/eddy/internal/testutil"
)

// echoOnce dials network/addr with the standard library, sends msg and
// checks the echo.
func echoOnce(t *testing.T, network, addr, msg string) {
	t.Helper()
	nc, err := net.DialTimeout(network, addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	nc.Write([]byte(msg))
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(nc, got); err != nil || string(got) != msg {
		t.Fatalf("%s %s: echo %q, %v", network, addr, got, err)
	}
}

func TestListenNetworks(t *testing.T) {
	rl := startLoop(t)
	for _, tc := range []struct {
		network, addr string
		dials         []string // network|address; "" address means the listener's
	}{
		{"tcp4", "127.0.0.1:0", []string{"tcp|127.0.0.1"}},
		{"tcp6", "[::1]:0", []string{"tcp|[::1]"}},
		{"tcp", ":0", []string{"tcp|127.0.0.1", "tcp|[::1]"}}, // dual-stack
		{"unix", t.TempDir() + "/s", []string{"unix|"}},
		{"unix", "@eddy-evnet-test-" + strconv.Itoa(os.Getpid()), []string{"unix|"}},
	} {
		t.Run(tc.network+" "+tc.addr, func(t *testing.T) {
			srv := &echoServer{}
			var ln *evnet.Listener
			var err error
			rl.Do(func() { ln, err = evnet.Listen(rl.Loop, tc.network, tc.addr, srv.handler()) })
			if err != nil {
				if strings.Contains(tc.addr, "::") && errors.Is(err, unix.EADDRNOTAVAIL) {
					t.Fatalf("no IPv6 loopback: %v", err)
				}
				t.Fatal(err)
			}
			for _, d := range tc.dials {
				network, host, _ := strings.Cut(d, "|")
				addr := tc.addr
				if network != "unix" {
					addr = net.JoinHostPort(strings.Trim(host, "[]"), strconv.Itoa(int(ln.Addr().Port())))
				}
				echoOnce(t, network, addr, "hello "+d)
			}
			rl.Do(func() {
				if err := ln.Close(); err != nil {
					t.Error(err)
				}
				if err := ln.Close(); !errors.Is(err, evnet.ErrClosed) {
					t.Errorf("second Close: %v", err)
				}
				srv.closeAll()
			})
			if tc.network == "unix" && !strings.HasPrefix(tc.addr, "@") {
				if _, err := os.Stat(tc.addr); !os.IsNotExist(err) {
					t.Errorf("socket file left behind: %v", err)
				}
			}
		})
	}
}

func TestListenErrors(t *testing.T) {
	rl := startLoop(t)
	h := evnet.Handler{OnData: func(c *evnet.Conn, p []byte) int { return len(p) }}
	for _, tc := range [][2]string{
		{"udp", "127.0.0.1:0"}, {"tcp", "localhost:80"}, {"tcp4", "[::1]:0"}, {"tcp6", "127.0.0.1:0"}, {"unix", ""},
	} {
		rl.Do(func() {
			if ln, err := evnet.Listen(rl.Loop, tc[0], tc[1], h); err == nil {
				ln.Close()
				t.Errorf("Listen(%q, %q) succeeded", tc[0], tc[1])
			}
		})
	}
}

// TestReusePort: two listeners share a port with SO_REUSEPORT.
func TestReusePort(t *testing.T) {
	rl := startLoop(t)
	s1, s2 := &echoServer{}, &echoServer{}
	lc := evnet.ListenConfig{ReusePort: true}
	ln1 := listen(t, rl, "tcp", "127.0.0.1:0", lc, s1)
	ln2 := listen(t, rl, "tcp", ln1.Addr().String(), lc, s2)
	if ln1.Addr() != ln2.Addr() {
		t.Fatalf("addresses %v and %v", ln1.Addr(), ln2.Addr())
	}
	for i := range 20 {
		echoOnce(t, "tcp", ln1.Addr().String(), fmt.Sprint("msg ", i))
	}
	waitLoop(t, rl, "accepts", func() bool { return ln1.Accepted()+ln2.Accepted() == 20 })
}

// TestDial: evnet's nonblocking connect to an evnet listener, over TCP and
// Unix; writes made before the connect completes are queued. And a dial
// to a closed port reports the error in OnClose, without OnOpen.
func TestDial(t *testing.T) {
	rl := startLoop(t)
	srv := &echoServer{}
	ln := listen(t, rl, "tcp", "127.0.0.1:0", evnet.ListenConfig{}, srv)
	path := t.TempDir() + "/d.sock"
	listen(t, rl, "unix", path, evnet.ListenConfig{}, &echoServer{})
	data := pattern(3 << 20)
	for _, target := range [][2]string{{"tcp", ln.Addr().String()}, {"unix", path}} {
		var got []byte
		var reason error
		opened := false
		rl.Do(func() {
			c, err := evnet.Dial(rl.Loop, target[0], target[1], 5*time.Second, evnet.Handler{
				OnOpen: func(c *evnet.Conn) {
					opened = true
					if target[0] == "tcp" && c.RemoteAddr() != ln.Addr() {
						t.Errorf("remote %v, want %v", c.RemoteAddr(), ln.Addr())
					}
				},
				OnData: func(c *evnet.Conn, p []byte) int {
					got = append(got, p...)
					return len(p)
				},
				OnClose: func(c *evnet.Conn, err error) { reason = err },
			})
			if err != nil {
				t.Fatal(err)
			}
			c.Write(data)
			c.CloseWrite()
		})
		waitLoop(t, rl, "dial close", func() bool { return reason != nil })
		rl.Do(func() {
			if !opened || !bytes.Equal(got, data) || !errors.Is(reason, evnet.ErrEOF) {
				t.Errorf("%s: opened %v, got %d bytes of %d, reason %v", target[0], opened, len(got), len(data), reason)
			}
		})
	}

	// A refused connect.
	var port string
	rl.Do(func() {
		l2, _ := evnet.Listen(rl.Loop, "tcp", "127.0.0.1:0", evnet.Handler{})
		port = strconv.Itoa(int(l2.Addr().Port()))
		l2.Close()
	})
	var reason error
	opened := false
	rl.Do(func() {
		_, err := evnet.Dial(rl.Loop, "tcp", "127.0.0.1:"+port, time.Second, evnet.Handler{
			OnOpen:  func(*evnet.Conn) { opened = true },
			OnClose: func(c *evnet.Conn, err error) { reason = err },
		})
		if err != nil {
			t.Fatal(err)
		}
	})
	waitLoop(t, rl, "refused", func() bool { return reason != nil })
	rl.Do(func() {
		if opened || !errors.Is(reason, unix.ECONNREFUSED) {
			t.Errorf("opened %v, reason %v: want ECONNREFUSED", opened, reason)
		}
	})
}

// TestAdoptNetConn: a net.Conn's descriptor, dup'ed, becomes a Conn.
func TestAdoptNetConn(t *testing.T) {
	rl := startLoop(t)
	lnStd, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lnStd.Close()
	go func() {
		c, err := lnStd.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(c, c)
	}()
	nc, err := net.Dial("tcp", lnStd.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	f, err := nc.(*net.TCPConn).File() // a dup
	nc.Close()
	if err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Dup(int(f.Fd()))
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	var got []byte
	var reason error
	rl.Do(func() {
		_, err := evnet.Adopt(rl.Loop, fd, evnet.Handler{
			OnOpen: func(c *evnet.Conn) { c.Write([]byte("adopted")); c.CloseWrite() },
			OnData: func(c *evnet.Conn, p []byte) int {
				got = append(got, p...)
				return len(p)
			},
			OnClose: func(c *evnet.Conn, err error) { reason = err },
		}, nil)

		if err != nil {
			t.Fatal(err)
		}
	})
	waitLoop(t, rl, "close", func() bool { return reason != nil })
	rl.Do(func() {
		if string(got) != "adopted" || !errors.Is(reason, evnet.ErrEOF) {
			t.Errorf("got %q, reason %v", got, reason)
		}
	})
}

// The EMFILE child: a server with a low RLIMIT_NOFILE. It prints its port,
// serves until its stdin closes, and logs to stderr.
const emfileEnv = "EVNET_TEST_EMFILE_CHILD"

func emfileChild() int {
	lim := unix.Rlimit{Cur: 40, Max: 40}
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	l, err := eddy.NewLoop(nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer l.Close()
	srv := &echoServer{}
	lc := evnet.ListenConfig{Conn: evnet.ConnConfig{Logf: func(f string, a ...any) {
		fmt.Fprintf(os.Stderr, f+"\n", a...)
	}}}
	ln, err := lc.Listen(l, "tcp", "127.0.0.1:0", srv.handler())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	stdin, err := evnet.Adopt(l, 0, evnet.Handler{
		OnData: func(c *evnet.Conn, p []byte) int { return len(p) },
		OnClose: func(c *evnet.Conn, err error) {
			ln.Close()
			srv.closeAll()
		},
	}, nil)

	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	_ = stdin
	fmt.Println(ln.Addr().Port())
	if err := l.Run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// TestEMFILE: a server that runs out of descriptors keeps serving the
// connections it has, does not spin, logs it, and accepts again once
// descriptors are free.
func TestEMFILE(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), emfileEnv+"=1")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			t.Errorf("child: %v\n%s", err, stderr.String())
		}
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("child port: %v (%s)", err, stderr.String())
	}
	addr := "127.0.0.1:" + strings.TrimSpace(line)
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range 60 { // more than the child can hold
		nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		nc.SetDeadline(time.Now().Add(20 * time.Second))
		conns = append(conns, nc)
	}
	// The first connections are served.
	for i := range 5 {
		conns[i].Write([]byte("early"))
		got := make([]byte, 5)
		if _, err := io.ReadFull(conns[i], got); err != nil || string(got) != "early" {
			t.Fatalf("conn %d: %q %v", i, got, err)
		}
	}
	if !testutil.Eventually(5*time.Second, func() bool { return strings.Contains(stderr.String(), "pausing accept") }) {
		t.Fatalf("no EMFILE report; child said: %s", stderr.String())
	}
	// Not spinning: little CPU while paused.
	before := cpuTicks(cmd.Process.Pid)
	// A measuring window, not a wait: the child's CPU over half a second
	// of wall time tells a paused accept from a spinning one.
	time.Sleep(500 * time.Millisecond)
	if used := cpuTicks(cmd.Process.Pid) - before; used > 20 {
		t.Errorf("child used %d ticks of CPU in 500ms while out of descriptors", used)
	}
	// Free descriptors: the last connections get served.
	for _, c := range conns[:30] {
		c.Close()
	}
	conns = conns[30:]
	last := conns[len(conns)-1]
	last.Write([]byte("late"))
	got := make([]byte, 4)
	if _, err := io.ReadFull(last, got); err != nil || string(got) != "late" {
		t.Fatalf("last conn: %q %v (child: %s)", got, err, stderr.String())
	}
}

// syncBuffer is a bytes.Buffer for a child's output, written by exec's
// copying goroutine while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// cpuTicks returns the user+system clock ticks of process pid.
func cpuTicks(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	u, _ := strconv.Atoi(f[11])
	st, _ := strconv.Atoi(f[12])
	return u + st
}
