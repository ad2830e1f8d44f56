package main

// Tests of "eddy proxy" with real peers: nginx and HAProxy as upstreams;
// curl, wrk and h2load --h1 as clients through it; the npm ws client
// through it to an eddy ws upstream; 10,000 client connections held open
// through it.

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/eddyloop/eddy/internal/testutil"
)

// nginxUpstreamConf serves the files of www.
const nginxUpstreamConf = `# written by cmd/eddy's proxy tests
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
events { worker_connections 256; }
http {
	access_log off;
%[3]s	default_type application/octet-stream;
	server {
		listen 127.0.0.1:%[2]d;
		root %[1]s/www;
		location / { }
	}
}
`

// startNginxFiles starts nginx serving files (name to contents) and
// returns its address.
func startNginxFiles(t *testing.T, files map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{"www", "tmp"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, "www", name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return testutil.StartNginx(t, dir, func(port int) []byte { return fmt.Appendf(nil, nginxUpstreamConf, dir, port, testutil.NginxTemps(dir)) })
}

// haproxyConf answers every request itself.
const haproxyConf = `# written by cmd/eddy's proxy tests
global
	maxconn 512
defaults
	mode http
	timeout connect 5s
	timeout client 30s
	timeout server 30s
	timeout http-keep-alive 30s
frontend hello
	bind %s
	http-request return status 200 content-type text/plain string "hello from haproxy"
`

// startHAProxy starts HAProxy answering "hello from haproxy" and returns
// its address.
func startHAProxy(t *testing.T) string {
	t.Helper()
	path := testutil.NeedPeer(t, "haproxy", "haproxy")
	addr := freeAddr(t)
	conf := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(conf, fmt.Appendf(nil, haproxyConf, addr), 0o644); err != nil {
		t.Fatal(err)
	}
	var out syncBuffer
	cmd := exec.Command(path, "-db", "-f", conf)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-exited })
	if !testutil.Eventually(10*time.Second, func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	}) {
		t.Fatalf("haproxy did not start:\n%s", out.String())
	}
	return addr
}

// TestProxyPeerUpstreams: eddy proxy in front of nginx (a small and a
// 12 MiB file) and of HAProxy, driven by curl (keep-alive, the large file
// checked by hash), wrk and h2load --h1: every answer a 2xx, none lost.
func TestProxyPeerUpstreams(t *testing.T) {
	bin := buildEddy(t)
	curl := testutil.NeedPeer(t, "curl", "curl")
	wrk := testutil.NeedPeer(t, "wrk", "wrk")
	h2load := testutil.NeedPeer(t, "h2load", "nghttp2-client")
	large := proxyRandom(12 << 20)
	nginx := startNginxFiles(t, map[string][]byte{"small.txt": []byte("small from nginx\n"), "large.bin": large})
	haproxy := startHAProxy(t)

	for _, up := range []struct{ name, addr, path, body string }{
		{"nginx", nginx, "/small.txt", "small from nginx\n"},
		{"haproxy", haproxy, "/", "hello from haproxy"},
	} {
		p := startProxyBin(t, bin, "-quiet", "-upstream", "http://"+up.addr)
		url := "http://" + p.addr + up.path
		// curl: two requests on one connection.
		out := runPeer(t, curl, "-sS", "-w", " %{http_code} %{num_connects}\n", url, url)
		if want := up.body + " 200 1\n" + up.body + " 200 0\n"; out != want {
			t.Errorf("%s: curl: %q, want %q", up.name, out, want)
		}
		out = runPeer(t, wrk, "-t1", "-c10", "-d1s", url)
		if strings.Contains(out, "Non-2xx") || strings.Contains(out, "Socket errors") {
			t.Errorf("%s: wrk:\n%s", up.name, out)
		}
		if m := match(t, `(\d+) requests in`, out); m[0] == 0 {
			t.Errorf("%s: wrk made no request:\n%s", up.name, out)
		}
		out = runPeer(t, h2load, "--h1", "-n", "2000", "-c", "10", "-m", "4", url)
		n := match(t, `requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded`, out)
		if s := match(t, `status codes: (\d+) 2xx`, out); n[3] != 2000 || s[0] != 2000 {
			t.Errorf("%s: h2load: %d succeeded, %d 2xx; want 2000\n%s", up.name, n[3], s[0], out)
		}
		p.stop(t, syscall.SIGTERM, "terminated")
	}

	p := startProxyBin(t, bin, "-quiet", "-upstream", "http://"+nginx)
	out := runPeer(t, curl, "-sS", "http://"+p.addr+"/large.bin")
	if got, want := sha256.Sum256([]byte(out)), sha256.Sum256(large); got != want {
		t.Errorf("the 12 MiB file through the proxy: %d bytes, a different hash", len(out))
	}
	p.stop(t, syscall.SIGTERM, "terminated")
}

// wsClientScript talks to a WebSocket URL with the npm ws package: three
// messages echoed (text, binary, 200 KB compressed), then a close with
// 4000, and prints what it saw.
const wsClientScript = `
const WebSocket = require(process.argv[2]);
const ws = new WebSocket(process.argv[3], { perMessageDeflate: true });
const want = ['hello', Buffer.from([1, 2, 3]), 'x'.repeat(200000)];
let got = 0;
ws.on('open', () => { for (const m of want) ws.send(m); });
ws.on('message', (data, isBinary) => {
	const w = want[got++];
	const ok = isBinary ? Buffer.isBuffer(w) && data.equals(w) : data.toString() === w;
	console.log('message ' + got + (ok ? ' ok' : ' WRONG'));
	if (got === want.length) ws.close(4000, 'bye');
});
ws.on('close', (code) => { console.log('closed ' + code + ' ' + ws.extensions); process.exit(0); });
ws.on('error', (e) => { console.log('error ' + e.message); process.exit(1); });
`

// TestProxyNpmWS: the npm ws client talks WebSocket, permessage-deflate
// included, through eddy proxy to an eddy ws upstream.
func TestProxyNpmWS(t *testing.T) {
	node := testutil.NeedPeer(t, "node", "nodejs")
	ws, err := filepath.Abs("../../interop/testdata/peers/node_modules/ws")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(ws); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("the npm ws package is not installed (test.sh runs npm ci in interop/testdata/peers): %v", err)
		}
		t.Skipf("the npm ws package is not installed: run npm ci in interop/testdata/peers")
	}
	bin := buildEddy(t)
	up := startWS(t, bin, "-deflate")
	p := startProxyBin(t, bin, "-quiet", "-upstream", "http://"+up.addr)
	script := filepath.Join(t.TempDir(), "client.js")
	if err := os.WriteFile(script, []byte(wsClientScript), 0o644); err != nil {
		t.Fatal(err)
	}
	out := runPeer(t, node, script, ws, "ws://"+p.addr+"/chat")
	want := "message 1 ok\nmessage 2 ok\nmessage 3 ok\nclosed 4000 permessage-deflate\n"
	if out != want {
		t.Errorf("npm ws through the proxy:\n%s\nwant:\n%s", out, want)
	}
	p.stop(t, syscall.SIGTERM, "terminated")
}

// TestProxy10kConns opens 10,000 client connections through eddy proxy
// to eddy serve, each making a request and staying open, idle; with all
// of them open, 1,000 make a second request, and a new connection is
// answered at once. The proxy's RSS per connection is logged (the shared
// harness's proxymem measures it for the figure).
func TestProxy10kConns(t *testing.T) {
	const (
		total   = 10000
		sample  = 1000
		workers = 8
	)
	if testing.Short() {
		t.Skip("10,000 connections: not with -short")
	}
	raiseNofile(t, total+500)
	bin := buildEddy(t)
	up := startServe(t, bin, "-quiet", "-loops", "1")
	p := startProxyBin(t, bin, "-quiet", "-upstream", "http://"+up.addr)
	pid := p.cmd.Process.Pid
	base := rssOf(t, pid)

	conns := make([]net.Conn, total)
	readers := make([]*bufio.Reader, total)
	t.Cleanup(func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	})
	get := func(i int) error {
		c := conns[i]
		c.SetDeadline(time.Now().Add(30 * time.Second))
		if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			return err
		}
		return readHello(readers[i])
	}
	run := func(what string, n, step int, f func(i int) error) {
		t.Helper()
		var next atomic.Int64
		var failed atomic.Pointer[error]
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for failed.Load() == nil {
					i := int(next.Add(int64(step))) - step
					if i >= n {
						return
					}
					if err := f(i); err != nil {
						err = fmt.Errorf("%s %d: %w", what, i, err)
						failed.CompareAndSwap(nil, &err)
					}
				}
			})
		}
		wg.Wait()
		if err := failed.Load(); err != nil {
			t.Fatal(*err)
		}
	}
	run("connection", total, 1, func(i int) error {
		c, err := net.Dial("tcp", p.addr)
		if err != nil {
			return err
		}
		conns[i], readers[i] = c, bufio.NewReaderSize(c, 512)
		return get(i)
	})
	grown := rssOf(t, pid) - base
	t.Logf("eddy proxy: RSS grew by %d KiB for %d client connections after one request each (%d B each, the upstream connections included)",
		grown>>10, total, grown/total)
	run("second request", total, total/sample, get)
	c, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	body, err := io.ReadAll(c)
	c.Close()
	if err != nil || !bytes.HasSuffix(body, []byte(helloBody)) {
		t.Fatalf("a new connection beside 10,000: %q, %v", body, err)
	}
	t.Logf("a new connection beside 10,000 was answered in %v", time.Since(start))
	for i, c := range conns {
		c.Close()
		conns[i] = nil
	}
	p.stop(t, syscall.SIGTERM, "terminated")
}
