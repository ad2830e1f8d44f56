package evnet_test

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eddyloop/eddy/evnet"
	"github.com/eddyloop/eddy/internal/testutil"
)

// tlsMemEnv, set to "ADDR N KIND", makes the test binary a client that
// opens N connections to ADDR, sends 64 bytes on each and reads them
// back, prints "ready", and holds them open until its standard input
// closes. KIND is "plain", "tls" (a full handshake, no session cache,
// crypto/tls's default key shares: X25519MLKEM768 and X25519, a ClientHello
// of about 1.4 KB) or "x25519" (X25519 and P-256 only, as the shared
// harness's tools, curl and most clients offer: a ClientHello of about 300
// bytes).
const tlsMemEnv = "EDDY_TLSMEM_CLIENT"

func tlsMemChild() int {
	f := strings.Fields(os.Getenv(tlsMemEnv))
	addr, kind := f[0], f[2]
	n, _ := strconv.Atoi(f[1])
	if kind == "handshakes" {
		return handshakesChild(addr, n)
	}
	useTLS := kind != "plain"
	cfg := &tls.Config{InsecureSkipVerify: true}
	if kind == "x25519" {
		cfg.CurvePreferences = []tls.CurveID{tls.X25519, tls.CurveP256}
	}
	conns := make([]net.Conn, 0, n)
	msg := make([]byte, 64)
	for i := range n {
		var c net.Conn
		var err error
		if useTLS {
			c, err = tls.Dial("tcp", addr, cfg)
		} else {
			c, err = net.Dial("tcp", addr)
		}
		if err == nil {
			_, err = c.Write(msg)
		}
		if err == nil {
			_, err = io.ReadFull(c, msg)
		}
		if err != nil {
			fmt.Printf("connection %d: %v\n", i, err)
			return 1
		}
		conns = append(conns, c)
	}
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
	for _, c := range conns {
		c.Close()
	}
	return 0
}

// TestTLSIdleMemory measures what an idle TLS connection costs the
// server, after its handshake and one 64-byte echo: the live heap after
// a GC, with N connections open (EDDY_TLSMEM=N, e.g. 10000; skipped
// without), from clients in a child process, against the same number of
// plain connections, on evnet's TLS 1.3 record layer and on crypto/tls's
// (TLSConfig.StdRecords). With -v it lists where the bytes are (a heap
// profile of what the connections hold, by allocation site).
func TestTLSIdleMemory(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("EDDY_TLSMEM"))
	if n <= 0 {
		t.Skip("EDDY_TLSMEM=N measures N idle connections")
	}
	p := getPKI(t)
	runtime.MemProfileRate = 1
	defer func() { runtime.MemProfileRate = 512 * 1024 }()
	measure := func(kind string, std bool) (perConn float64, sites []string) {
		var cfg *evnet.TLSConfig
		if kind != "plain" {
			cfg = &evnet.TLSConfig{Config: p.ServerConfig(), StdRecords: std}
		}
		// An echo handler that keeps nothing per connection.
		rl := startLoop(t)
		open := 0
		h := evnet.Handler{
			OnOpen:  func(*evnet.Conn) { open++ },
			OnData:  func(c *evnet.Conn, b []byte) int { c.Write(b); return len(b) },
			OnClose: func(*evnet.Conn, error) { open-- },
		}
		var ln *evnet.Listener
		var err error
		rl.Do(func() { ln, err = evnet.ListenConfig{TLS: cfg}.Listen(rl.Loop, "tcp", "127.0.0.1:0", h) })
		if err != nil {
			t.Fatal(err)
		}
		defer rl.Do(func() { ln.Close() })
		addr := ln.Addr().String()
		before := liveHeap()
		prof0 := inuseBySite()
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %d %s", tlsMemEnv, addr, n, kind))
		in, _ := cmd.StdinPipe()
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, _ := bufio.NewReader(out).ReadString('\n')
		if line != "ready\n" {
			in.Close()
			cmd.Wait()
			t.Fatalf("client: %q", line)
		}
		testutil.Eventually(10*time.Second, func() bool {
			var k int
			rl.Do(func() { k = open })
			return k == n
		})
		after := liveHeap()
		prof1 := inuseBySite()
		for site, b := range prof1 {
			if d := b - prof0[site]; d > int64(n) {
				sites = append(sites, fmt.Sprintf("%6.0f B  %s", float64(d)/float64(n), site))
			}
		}
		sort.Sort(sort.Reverse(sort.StringSlice(sites)))
		in.Close()
		cmd.Wait()
		testutil.Eventually(10*time.Second, func() bool {
			var k int
			rl.Do(func() { k = open })
			return k == 0
		})
		return float64(after-before) / float64(n), sites
	}
	plain, _ := measure("plain", false)
	t.Logf("%d idle connections after one 64-byte echo, live heap per connection: plain %.0f B", n, plain)
	for _, kind := range []string{"x25519", "tls"} {
		for _, std := range []bool{false, true} {
			layer := "evnet's TLS 1.3 records"
			if std || !evnet.OwnRecordsDefault() {
				layer = "crypto/tls's records"
			}
			per, sites := measure(kind, std)
			t.Logf("TLS (client %s, %s): %.0f B; by allocation site:\n%s", kind, layer, per, strings.Join(sites, "\n"))
		}
	}
}

// liveHeap returns the bytes of the live heap, after two GCs.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// inuseBySite returns the bytes in use by allocation site (the first
// frames of crypto/tls, evnet or the runtime's allocators' callers).
func inuseBySite() map[string]int64 {
	runtime.GC()
	var recs []runtime.MemProfileRecord
	n, _ := runtime.MemProfile(nil, true)
	recs = make([]runtime.MemProfileRecord, n+100)
	n, _ = runtime.MemProfile(recs, true)
	out := map[string]int64{}
	for _, r := range recs[:n] {
		frames := runtime.CallersFrames(r.Stack())
		var names []string
		for {
			f, more := frames.Next()
			name := f.Function
			if i := strings.LastIndex(name, "/"); i >= 0 {
				name = name[i+1:]
			}
			if !strings.HasPrefix(name, "runtime.") && !strings.HasPrefix(name, "bytes.") {
				names = append(names, name)
			}
			if len(names) == 3 || !more {
				break
			}
		}
		out[strings.Join(names, " < ")] += r.InUseBytes()
	}
	return out
}

// handshakesChild makes n full TLS handshakes to addr (X25519, no session
// cache), each with a 1-byte echo, 4 at a time, and prints "done".
func handshakesChild(addr string, n int) int {
	cfg := &tls.Config{InsecureSkipVerify: true, CurvePreferences: []tls.CurveID{tls.X25519, tls.CurveP256}}
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			for range n / 4 {
				c, err := tls.Dial("tcp", addr, cfg)
				if err == nil {
					c.Write([]byte{1})
					_, err = io.ReadFull(c, make([]byte, 1))
					c.Close()
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			fmt.Println(err)
			return 1
		}
	}
	fmt.Println("done")
	return 0
}

// TestTLSHandshakeCPU measures the server's CPU time per full TLS 1.3
// handshake (ECDSA P-256, X25519, no resumption) and a 1-byte echo, with
// the clients in a child process (EDDY_TLSHS=N handshakes; skipped
// without): an evnet TLS echo server against crypto/tls's on a goroutine
// per connection, alternately, three times each.
func TestTLSHandshakeCPU(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("EDDY_TLSHS"))
	if n <= 0 {
		t.Skip("EDDY_TLSHS=N measures N handshakes")
	}
	p := getPKI(t)
	sc := p.ServerConfig()
	run := func(addr string) float64 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %d handshakes", tlsMemEnv, addr, n))
		before := processCPU()
		out, err := cmd.Output()
		if err != nil || string(out) != "done\n" {
			t.Fatalf("client: %q, %v", out, err)
		}
		return float64(processCPU()-before) / float64(n) / 1e3
	}
	e := startTLSEcho(t, &evnet.TLSConfig{Config: sc})
	goAddr, _ := goServerTB(t, sc)
	run(e.addr) // warm up
	run(goAddr)
	var ev, gv []string
	for range 3 {
		ev = append(ev, fmt.Sprintf("%.0f", run(e.addr)))
		gv = append(gv, fmt.Sprintf("%.0f", run(goAddr)))
	}
	t.Logf("server CPU µs per handshake (GOMAXPROCS %d): evnet %s, crypto/tls goroutines %s", runtime.GOMAXPROCS(0), strings.Join(ev, " "), strings.Join(gv, " "))
}
