package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/eddyloop/eddy/evnet"
	"github.com/eddyloop/eddy/internal/testutil"
)

// startProxyBin runs "eddy proxy -addr A args..." and waits until it
// listens. It is killed if it still runs when the test ends.
func startProxyBin(t *testing.T, bin string, args ...string) *serveProcess {
	t.Helper()
	addr := freeAddr(t)
	cmd := exec.Command(bin, append([]string{"proxy", "-addr", addr, "-loops", "2"}, args...)...)
	p := &serveProcess{
		process: &process{cmd: cmd, addr: addr, stderr: new(syncBuffer), done: make(chan struct{})},
		stdout:  new(syncBuffer),
	}
	cmd.Stderr, cmd.Stdout = p.stderr, p.stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
	})
	ok := testutil.Eventually(10*time.Second, func() bool {
		s := p.stderr.String()
		return strings.Contains(s, "listening on") || strings.Contains(s, "relaying tcp")
	})
	if !ok {
		t.Fatalf("eddy proxy did not start:\n%s", p.stderr.String())
	}
	return p
}

func proxyRandom(n int) []byte {
	p := make([]byte, n)
	rand.NewChaCha8([32]byte{byte(n), 7}).Read(p)
	return p
}

// TestProxyTCPBinary relays 4 MiB each way through "eddy proxy -tcp",
// compared by hash, the client's half-close reaching the upstream first;
// an upstream that refuses gets the client's connection closed; SIGTERM
// stops it with status 0.
func TestProxyTCPBinary(t *testing.T) {
	bin := buildEddy(t)
	const size = 4 << 20
	up, down := proxyRandom(size), proxyRandom(size+1)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer ln.Close()
	gotUp := make(chan [32]byte, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second))
		h := sha256.New()
		io.Copy(h, c) // until the client's half-close arrives
		gotUp <- [32]byte(h.Sum(nil))
		c.Write(down) // the other direction still works after it
	}()
	p := startProxyBin(t, bin, "-tcp", "-upstream", ln.Addr().String())
	c, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	c.Write(up)
	c.(*net.TCPConn).CloseWrite()
	got, err := io.ReadAll(c)
	if err != nil || !bytes.Equal(got, down) {
		t.Errorf("the client read %d bytes of %d, %v", len(got), len(down), err)
	}
	if <-gotUp != sha256.Sum256(up) {
		t.Error("the upstream got other bytes than the client sent")
	}
	if !testutil.Eventually(5*time.Second, func() bool { return strings.Contains(p.stdout.String(), " up 4194304 down 4194305 ") }) {
		t.Errorf("no log line with the counts:\n%s", p.stdout.String())
	}

	// An upstream that refuses: the client is closed.
	closed := freeAddr(t)
	p2 := startProxyBin(t, bin, "-tcp", "-upstream", closed, "-quiet")
	c2, err := net.Dial("tcp", p2.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	c2.SetDeadline(time.Now().Add(10 * time.Second))
	if n, err := c2.Read(make([]byte, 1)); n != 0 || err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("refused upstream: the client read %d bytes, %v; want it closed", n, err)
	}
	p2.stop(t, syscall.SIGINT, "interrupt: stopped after 1 relay")
	p.stop(t, syscall.SIGTERM, "terminated: stopped after 1 relay")
}

// TestProxyHTTPBinary proxies to a net/http upstream through "eddy proxy":
// a GET and an 8 MiB POST by hash, the access log naming the upstream, a
// 504 from -upstream-timeout, and a drain on SIGTERM.
func TestProxyHTTPBinary(t *testing.T) {
	bin := buildEddy(t)
	stall := make(chan struct{})
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/stall":
			select {
			case <-stall:
			case <-time.After(10 * time.Second):
			}
		case "/hash":
			h := sha256.New()
			io.Copy(h, r.Body)
			w.Write(h.Sum(nil))
		default:
			io.WriteString(w, "hello "+r.Header.Get("Via"))
		}
	}))
	defer upstream.Close()
	defer close(stall)
	p := startProxyBin(t, bin, "-upstream", upstream.URL, "-upstream-timeout", "300ms")
	hc := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{}}
	defer hc.CloseIdleConnections()

	resp, err := hc.Get("http://" + p.addr + "/x")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "hello 1.1 eddy" {
		t.Errorf("GET: %d %q", resp.StatusCode, body)
	}

	big := proxyRandom(8 << 20)
	resp, err = hc.Post("http://"+p.addr+"/hash", "application/octet-stream", bytes.NewReader(big))
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := sha256.Sum256(big); !bytes.Equal(body, want[:]) {
		t.Errorf("POST: %d, the upstream's hash differs", resp.StatusCode)
	}

	resp, err = hc.Get("http://" + p.addr + "/stall")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 504 {
		t.Errorf("stalled upstream: %d, want 504", resp.StatusCode)
	}
	want := `"GET /x HTTP/1.1" 200 14 `
	if !testutil.Eventually(5*time.Second, func() bool {
		s := p.stdout.String()
		return strings.Contains(s, want) && strings.Contains(s, " upstream="+upstream.URL+" attempts=1") && strings.Contains(s, `" 504 `)
	}) {
		t.Errorf("access log without %q and the upstream:\n%s", want, p.stdout.String())
	}
	hc.CloseIdleConnections()
	p.stop(t, syscall.SIGTERM, "terminated: stopped after 3 requests")
}

// TestProxyUsage checks the usage errors: status 2 and the reason.
func TestProxyUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "-upstream: at least one is needed"},
		{[]string{"-upstream", "ftp://x"}, "invalid upstream URL"},
		{[]string{"-upstream", "http://127.0.0.1:1", "-addr", "nowhere"}, "-addr:"},
		{[]string{"-tcp", "-upstream", "127.0.0.1:1", "-tls-cert", "c"}, "-tls-cert and -tls-key go together"},
		{[]string{"-upstream", "http://127.0.0.1:1", "-balance", "random"}, `-balance: "random" is neither rr nor least`},
		{[]string{"-upstream", "http://127.0.0.1:1", "-health-check", "/h", "-health-interval", "0s"}, "-health-interval: 0s is not positive"},
		{[]string{"-tcp", "-upstream", "127.0.0.1:1", "-proxy-protocol", "3"}, "-proxy-protocol: 3 is neither 1 nor 2"},
		{[]string{"-upstream", "http://127.0.0.1:1", "-proxy-protocol", "1"}, "-proxy-protocol: only with -tcp"},
	} {
		var stdout, stderr bytes.Buffer
		if status := dispatch(append([]string{"proxy"}, tc.args...), &stdout, &stderr); status != 2 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("eddy proxy %q: status %d, %q; want 2 and %q", tc.args, status, stderr.String(), tc.want)
		}
	}
}

// TestProxyProtocolBinary: "eddy proxy -tcp -proxy-protocol N" sends the
// upstream the header of version N with the client's addresses, then the
// client's bytes.
func TestProxyProtocolBinary(t *testing.T) {
	bin := buildEddy(t)
	for _, v := range []int{1, 2} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		got := make(chan []byte, 1)
		go func() {
			c, err := ln.Accept()
			if err != nil {
				got <- nil
				return
			}
			c.SetDeadline(time.Now().Add(10 * time.Second))
			b, _ := io.ReadAll(c)
			c.Close()
			got <- b
		}()
		p := startProxyBin(t, bin, "-tcp", "-proxy-protocol", strconv.Itoa(v), "-upstream", ln.Addr().String(), "-quiet")
		c, err := net.Dial("tcp", p.addr)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, "hello")
		c.(*net.TCPConn).CloseWrite()
		io.ReadAll(c)
		c.Close()
		want, _ := evnet.AppendProxyHeader(nil, evnet.ProxyProtocol(v),
			netip.MustParseAddrPort(c.LocalAddr().String()), netip.MustParseAddrPort(p.addr))
		if b := <-got; string(b) != string(want)+"hello" {
			t.Errorf("v%d: the upstream read %q, want %q", v, b, string(want)+"hello")
		}
		ln.Close()
		p.stop(t, syscall.SIGTERM, "terminated")
	}
}

// TestProxyTLSBinary terminates TLS in "eddy proxy -tls-cert -tls-key":
// the upstream, plain, is told the client came over https.
func TestProxyTLSBinary(t *testing.T) {
	bin := buildEddy(t)
	pki := testutil.TestPKI(t)
	cert, key, _ := pki.Files(t)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Header.Get("X-Forwarded-Proto"))
	}))
	defer upstream.Close()
	p := startProxyBin(t, bin, "-upstream", upstream.URL, "-tls-cert", cert, "-tls-key", key, "-quiet")
	if !strings.Contains(p.stderr.String(), "listening on https://") {
		t.Errorf("first line: %q", firstLine(p.stderr.String()))
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pki.CAPool}}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("https://" + p.addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "https" {
		t.Errorf("%d %q, want 200 https", resp.StatusCode, body)
	}
	tr.CloseIdleConnections()
	p.stop(t, syscall.SIGTERM, "terminated: stopped after 1 request")
}

// TestProxyWebSocketBinary puts "eddy proxy" in front of "eddy ws": the
// client "eddy ws -connect" upgrades through the proxy, and its messages
// come back through the tunnel.
func TestProxyWebSocketBinary(t *testing.T) {
	bin := buildEddy(t)
	ws := startWS(t, bin)
	p := startProxyBin(t, bin, "-upstream", "http://"+ws.addr)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "ws", "-connect", "ws://"+p.addr+"/")
	cmd.Stdin = strings.NewReader("hello\nthrough the proxy\n")
	out, err := cmd.Output()
	if err != nil || string(out) != "hello\nthrough the proxy\n" {
		t.Errorf("eddy ws -connect through the proxy: %q, %v", out, err)
	}
	if !testutil.Eventually(5*time.Second, func() bool { return strings.Contains(p.stdout.String(), `"GET / HTTP/1.1" 101 `) }) {
		t.Errorf("no access log line for the 101:\n%s", p.stdout.String())
	}
	p.stop(t, syscall.SIGTERM, "terminated: stopped after 1 request")
}

// TestProxyHealthBinary runs "eddy proxy -balance least -health-check" over
// two upstreams, one of which fails its checks: requests soon go only to
// the other.
func TestProxyHealthBinary(t *testing.T) {
	bin := buildEddy(t)
	upstream := func(name string, health int) string {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/healthz" {
				w.WriteHeader(health)
			}
			io.WriteString(w, name)
		}))
		t.Cleanup(s.Close)
		return s.URL
	}
	sick, well := upstream("sick", 503), upstream("well", 200)
	p := startProxyBin(t, bin, "-upstream", sick, "-upstream", well, "-balance", "least",
		"-health-check", "/healthz", "-health-interval", "50ms", "-quiet")
	hc := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	inARow := 0
	ok := testutil.Eventually(10*time.Second, func() bool {
		resp, err := hc.Get("http://" + p.addr + "/")
		if err != nil {
			return false
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if inARow++; string(body) != "well" {
			inARow = 0
		}
		return inARow == 20
	})
	if !ok {
		t.Errorf("requests still went to the upstream that fails its checks")
	}
	p.stop(t, syscall.SIGTERM, "terminated: stopped after")
}
