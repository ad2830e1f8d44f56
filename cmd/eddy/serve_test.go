package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eddyloop/eddy/internal/testutil"
)

// buildEddy builds the eddy command once per test that needs it.
func buildEddy(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("no go command to build with: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "eddy")
	if out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// serveProcess is a running "eddy serve".
type serveProcess struct {
	*process
	stdout *syncBuffer
}

// startServe runs "eddy serve -addr A args..." and waits until it listens.
func startServe(t *testing.T, bin string, args ...string) *serveProcess {
	t.Helper()
	return startServeEnv(t, bin, nil, args...)
}

// startServeEnv is startServe with env added to the command's environment.
func startServeEnv(t *testing.T, bin string, env []string, args ...string) *serveProcess {
	t.Helper()
	addr := freeAddr(t)
	cmd := exec.Command(bin, append([]string{"serve", "-addr", addr}, args...)...)
	cmd.Env = append(os.Environ(), env...)
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
	if !testutil.Eventually(10*time.Second, func() bool { return strings.Contains(p.stderr.String(), "listening on") }) {
		t.Fatalf("eddy serve did not start:\n%s", p.stderr.String())
	}
	return p
}

// dialServe connects to p with a deadline; closed when the test ends.
func dialServe(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(20 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c, bufio.NewReader(c)
}

// readHellos reads n hello responses from br, exactly.
func readHellos(t *testing.T, br *bufio.Reader, n int) {
	t.Helper()
	for i := range n {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("response %d of %d: %v", i, n, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || resp.Proto != "HTTP/1.1" || resp.ContentLength != 13 ||
			string(body) != "Hello, World!" || resp.Close {
			t.Fatalf("response %d: %s %v length %d close %v %q %v", i, resp.Proto, resp.Status, resp.ContentLength, resp.Close, body, err)
		}
	}
}

// TestServeBinary runs "eddy serve" as the shared harness does: the hello
// contract, pipelined and fragmented, an access log line per request, and
// a clean exit on SIGTERM with a connection open.
func TestServeBinary(t *testing.T) {
	bin := buildEddy(t)

	t.Run("hello", func(t *testing.T) {
		p := startServe(t, bin)
		c, br := dialServe(t, p.addr)
		// The exact bytes of the first answer, Date aside.
		io.WriteString(c, getRequest)
		var head []string
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			if line == "\r\n" {
				break
			}
			if !strings.HasPrefix(line, "Date: ") {
				head = append(head, line)
			}
		}
		body := make([]byte, 13)
		io.ReadFull(br, body)
		want := []string{"HTTP/1.1 200 OK\r\n", "Content-Type: text/plain\r\n", "Content-Length: 13\r\n"}
		if fmt.Sprint(head) != fmt.Sprint(want) || string(body) != "Hello, World!" {
			t.Errorf("head %q body %q, want %q", head, body, want)
		}
		// Keep-alive, then 16 and 1024 pipelined, then 16 in 7-byte writes.
		io.WriteString(c, getRequest)
		readHellos(t, br, 1)
		io.WriteString(c, strings.Repeat(getRequest, 16))
		readHellos(t, br, 16)
		go io.WriteString(c, strings.Repeat(getRequest, 1024))
		readHellos(t, br, 1024)
		go func() {
			b := []byte(strings.Repeat(getRequest, 16))
			for len(b) > 0 {
				k := min(7, len(b))
				if _, err := c.Write(b[:k]); err != nil {
					return
				}
				b = b[k:]
			}
		}()
		readHellos(t, br, 16)
		// HEAD and HTTP/1.0.
		io.WriteString(c, "HEAD /x HTTP/1.1\r\nHost: a\r\n\r\nGET /y HTTP/1.0\r\n\r\n")
		resp, err := http.ReadResponse(br, &http.Request{Method: "HEAD"})
		if err != nil || resp.ContentLength != 13 {
			t.Fatalf("HEAD: %v, %v", resp, err)
		}
		rest, _ := io.ReadAll(br)
		if !strings.HasPrefix(string(rest), "HTTP/1.0 200 OK\r\n") || !strings.HasSuffix(string(rest), "\r\n\r\nHello, World!") {
			t.Errorf("HTTP/1.0: %q", rest)
		}
		want1 := fmt.Sprintf("%s \"GET / HTTP/1.1\" 200 13 ", c.LocalAddr())
		if !testutil.Eventually(5*time.Second, func() bool {
			return strings.Count(p.stdout.String(), want1) == 1+1+16+1024+16 && strings.Contains(p.stdout.String(), "\"GET /y HTTP/1.0\" 200 13")
		}) {
			t.Errorf("access log: %d lines like %q in\n%.500s", strings.Count(p.stdout.String(), want1), want1, p.stdout.String())
		}
		// An idle connection at shutdown is closed; the exit is clean.
		idle, ibr := dialServe(t, p.addr)
		io.WriteString(idle, getRequest)
		readHellos(t, ibr, 1)
		p.stop(t, syscall.SIGTERM, "terminated: stopped after 2 connections and 1061 requests")
		if _, err := io.ReadAll(ibr); err != nil {
			t.Errorf("idle connection at shutdown: %v, want EOF", err)
		}
	})

	t.Run("quiet loops", func(t *testing.T) {
		p := startServe(t, bin, "-quiet", "-loops", "2")
		for range 4 {
			c, br := dialServe(t, p.addr)
			io.WriteString(c, strings.Repeat(getRequest, 3))
			readHellos(t, br, 3)
		}
		if !strings.Contains(p.stderr.String(), "(Hello, World!; 2 loops") {
			t.Errorf("startup line: %q", p.stderr.String())
		}
		p.stop(t, syscall.SIGINT, "interrupt: stopped after 4 connections and 12 requests")
		if out := p.stdout.String(); out != "" {
			t.Errorf("-quiet printed %q", out)
		}
	})

	t.Run("adapter", func(t *testing.T) { testServeAdapter(t, bin) })

	t.Run("loops and backend", func(t *testing.T) {
		// One loop per processor by default; -loops 1 for benchmarks.
		for _, tc := range []struct {
			env   string
			args  []string
			first string
		}{
			{"GOMAXPROCS=3", nil, "(Hello, World!; 3 loops, "},
			{"GOMAXPROCS=1", nil, "(Hello, World!; 1 loop, "},
			{"GOMAXPROCS=3", []string{"-loops", "1", "-backend", "poll"}, "(Hello, World!; 1 loop, poll backend)"},
		} {
			p := startServeEnv(t, bin, []string{tc.env}, append([]string{"-quiet"}, tc.args...)...)
			c, br := dialServe(t, p.addr)
			io.WriteString(c, getRequest)
			readHellos(t, br, 1)
			if first := firstLine(p.stderr.String()); !strings.Contains(first, tc.first) {
				t.Errorf("%s eddy serve %q: first line %q, want %q", tc.env, tc.args, first, tc.first)
			}
			p.stop(t, syscall.SIGTERM, "stopped after 1 connection and 1 request")
		}
	})

	t.Run("dir", func(t *testing.T) { testServeDir(t, bin) })
}

// testServeAdapter checks -adapter, Hello, World! from a standard
// http.Handler through evhttp.Adapt: the first line says so; the answer is
// the native one's, with keep-alive, pipelining, a request body (read and
// dropped), HEAD and HTTP/1.0; net/http's client gets it too; each request
// is logged; SIGTERM stops it cleanly, closing an idle connection.
func testServeAdapter(t *testing.T, bin string) {
	p := startServe(t, bin, "-adapter")
	if first := firstLine(p.stderr.String()); !strings.Contains(first, "(Hello, World! through evhttp.Adapt; ") {
		t.Errorf("first line %q, want it to name evhttp.Adapt", first)
	}
	c, br := dialServe(t, p.addr)
	io.WriteString(c, getRequest)
	readHellos(t, br, 1)
	io.WriteString(c, getRequest) // the same connection: keep-alive
	readHellos(t, br, 1)
	io.WriteString(c, strings.Repeat(getRequest, 16))
	readHellos(t, br, 16)
	body := strings.Repeat("b", 100<<10)
	fmt.Fprintf(c, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	fmt.Fprintf(c, "POST /chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
	readHellos(t, br, 2)
	io.WriteString(c, "HEAD /x HTTP/1.1\r\nHost: a\r\n\r\nGET /y HTTP/1.0\r\n\r\n")
	resp, err := http.ReadResponse(br, &http.Request{Method: "HEAD"})
	if err != nil || resp.StatusCode != 200 || resp.ContentLength != 13 {
		t.Fatalf("HEAD: %v, %v", resp, err)
	}
	rest, _ := io.ReadAll(br) // HTTP/1.0 without keep-alive: the server closes
	if !strings.HasPrefix(string(rest), "HTTP/1.0 200 OK\r\n") || !strings.HasSuffix(string(rest), "\r\n\r\nHello, World!") {
		t.Errorf("HTTP/1.0: %q", rest)
	}

	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	for i := range 3 {
		resp, err := client.Post("http://"+p.addr+"/form", "text/plain", strings.NewReader("a=1"))
		if err != nil {
			t.Fatalf("net/http POST %d: %v", i, err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || string(got) != "Hello, World!" || resp.Header.Get("Content-Type") != "text/plain" {
			t.Errorf("net/http POST %d: %v %q %v %v", i, resp.Status, got, resp.Header, err)
		}
	}

	want := fmt.Sprintf("%s \"GET / HTTP/1.1\" 200 13 ", c.LocalAddr())
	if !testutil.Eventually(5*time.Second, func() bool {
		out := p.stdout.String()
		return strings.Count(out, want) == 18 && strings.Contains(out, "\"POST /upload HTTP/1.1\" 200 13") &&
			strings.Count(out, "\"POST /form HTTP/1.1\" 200 13") == 3
	}) {
		t.Errorf("access log: %d lines like %q in\n%.500s", strings.Count(p.stdout.String(), want), want, p.stdout.String())
	}
	idle, ibr := dialServe(t, p.addr)
	io.WriteString(idle, getRequest)
	readHellos(t, ibr, 1)
	p.stop(t, syscall.SIGTERM, "terminated: stopped after 3 connections and 26 requests")
	if _, err := io.ReadAll(ibr); err != nil {
		t.Errorf("idle connection at shutdown: %v, want EOF", err)
	}
}

// testServeDir checks -dir: index.html, content types, large files,
// redirects, that nothing outside the directory can be reached, then
// validators, conditional requests and ranges, with curl too.
func testServeDir(t *testing.T, bin string) {
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret")
	os.WriteFile(secret, []byte("secret"), 0o644)
	root := t.TempDir()
	big := bytes.Repeat([]byte("0123456789abcdef"), 3<<20/16+7)
	for name, data := range map[string][]byte{
		"index.html":      []byte("<h1>home</h1>"),
		"style.css":       []byte("h1{}"),
		"big.bin":         big,
		"sub/note.txt":    []byte("note"),
		"docs/index.html": []byte("docs"),
		"empty.txt":       nil,
	} {
		path := filepath.Join(root, name)
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.Symlink(secret, filepath.Join(root, "link-out"))
	os.Symlink(outside, filepath.Join(root, "dir-out"))
	os.Symlink(filepath.Join(root, "style.css"), filepath.Join(root, "link-in"))

	p := startServe(t, bin, "-quiet", "-dir", root)
	c, br := dialServe(t, p.addr)
	for _, tc := range []struct {
		method, target string
		status         int
		ctype, body    string
	}{
		{"GET", "/", 200, "text/html; charset=utf-8", "<h1>home</h1>"},
		{"GET", "/index.html", 200, "text/html; charset=utf-8", "<h1>home</h1>"},
		{"GET", "/style.css", 200, "text/css; charset=utf-8", "h1{}"},
		{"GET", "/link-in", 200, "text/css; charset=utf-8", "h1{}"},
		{"GET", "/sub/note.txt", 200, "text/plain; charset=utf-8", "note"},
		{"GET", "//sub/./note.txt", 200, "text/plain; charset=utf-8", "note"},
		{"GET", "/sub%2Fnote.txt", 400, "", ""},
		{"GET", "/docs", 301, "", ""},
		{"GET", "/docs/", 200, "text/html; charset=utf-8", "docs"},
		{"GET", "/sub/", 403, "", ""},
		{"GET", "/empty.txt", 200, "text/plain; charset=utf-8", ""},
		{"GET", "/missing", 404, "", ""},
		{"GET", "/index.html/x", 404, "", ""},
		{"GET", "/../" + filepath.Base(outside) + "/secret", 400, "", ""},
		{"GET", "/%2e%2e/" + filepath.Base(outside) + "/secret", 400, "", ""},
		{"GET", "/sub/..%2f..%2fsecret", 400, "", ""},
		{"GET", "/sub\\..\\index.html", 400, "", ""},
		{"GET", "/a%00b", 400, "", ""},
		{"GET", "/%zz", 400, "", ""},
		{"GET", "/link-out", 404, "", ""},
		{"GET", "/dir-out/secret", 404, "", ""},
		{"POST", "/index.html", 405, "", ""},
		{"HEAD", "/big.bin", 200, "application/octet-stream", ""},
		{"GET", "/big.bin", 200, "application/octet-stream", string(big)},
	} {
		fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", tc.method, tc.target)
		resp, err := http.ReadResponse(br, &http.Request{Method: tc.method})
		if err != nil {
			t.Fatalf("%s %s: %v", tc.method, tc.target, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != tc.status {
			t.Errorf("%s %s: %v %.100q, %v; want %d", tc.method, tc.target, resp.Status, body, err, tc.status)
			continue
		}
		if tc.status != 200 {
			if tc.status == 301 && resp.Header.Get("Location") != tc.target+"/" {
				t.Errorf("%s: Location %q", tc.target, resp.Header.Get("Location"))
			}
			continue
		}
		if got := resp.Header.Get("Content-Type"); got != tc.ctype {
			t.Errorf("%s: Content-Type %q, want %q", tc.target, got, tc.ctype)
		}
		if string(body) != tc.body {
			t.Errorf("%s %s: %d bytes, want %d", tc.method, tc.target, len(body), len(tc.body))
		}
		if tc.method == "HEAD" && resp.ContentLength != int64(len(big)) {
			t.Errorf("HEAD: length %d", resp.ContentLength)
		}
	}

	// Validators, conditional requests and ranges.
	fmt.Fprintf(c, "GET /big.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=0-99\r\n\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	etag, lastMod := resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
	if resp.StatusCode != 206 || !bytes.Equal(body, big[:100]) || etag == "" || lastMod == "" ||
		resp.Header.Get("Content-Range") != fmt.Sprintf("bytes 0-99/%d", len(big)) {
		t.Errorf("Range 0-99: %v, %d bytes, %v", resp.Status, len(body), resp.Header)
	}
	for _, tc := range []struct {
		header string
		status int
		body   []byte
	}{
		{"Range: bytes=-100\r\n", 206, big[len(big)-100:]},
		{fmt.Sprintf("Range: bytes=%d-\r\n", len(big)), 416, nil},
		{"If-None-Match: " + etag + "\r\n", 304, nil},
		{"If-Modified-Since: " + lastMod + "\r\n", 304, nil},
		{"If-Match: \"nope\"\r\n", 412, nil},
		{"Range: bytes=0-9\r\nIf-Range: \"old\"\r\n", 200, big},
	} {
		fmt.Fprintf(c, "GET /big.bin HTTP/1.1\r\nHost: x\r\n%s\r\n", tc.header)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != tc.status || tc.body != nil && !bytes.Equal(body, tc.body) {
			t.Errorf("%q: %v, %d bytes", tc.header, resp.Status, len(body))
		}
	}
	t.Run("curl", func(t *testing.T) { testServeDirCurl(t, p.addr, big, etag, lastMod) })
	p.stop(t, syscall.SIGTERM, "terminated: stopped after")
}

// testServeDirCurl checks eddy serve -dir with curl: ranges, conditional
// requests, HTTP/1.0, escapes. Without curl it is skipped, or fails in CI
// (testutil.NeedPeer).
func testServeDirCurl(t *testing.T, addr string, big []byte, etag, lastMod string) {
	curl := testutil.NeedPeer(t, "curl", "curl")
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(curl, append([]string{"-sS", "--max-time", "20"}, args...)...).Output()
		if err != nil {
			t.Fatalf("curl %q: %v", args, err)
		}
		return string(out)
	}
	url := "http://" + addr + "/big.bin"
	if out := run("-r", "0-99", url); out != string(big[:100]) {
		t.Errorf("-r 0-99: %d bytes", len(out))
	}
	if out := run("-r", "-100", url); out != string(big[len(big)-100:]) {
		t.Errorf("-r -100: %d bytes", len(out))
	}
	if out := run("-o", "/dev/null", "-w", "%{http_code}", "-H", "If-None-Match: "+etag, url); out != "304" {
		t.Errorf("If-None-Match: %s", out)
	}
	if out := run("-o", "/dev/null", "-w", "%{http_code}", "-z", lastMod, url); out != "304" {
		t.Errorf("-z: %s", out)
	}
	if out := run("--http1.0", "-i", "http://"+addr+"/style.css"); !strings.HasPrefix(out, "HTTP/1.0 200 OK\r\n") ||
		!strings.HasSuffix(out, "\r\n\r\nh1{}") {
		t.Errorf("--http1.0: %q", out)
	}
	for _, target := range []string{"/../etc/passwd", "/%2e%2e/etc/passwd", "/a%2fb", "/sub/..%2f..%2fsecret"} {
		if out := run("--path-as-is", "-o", "/dev/null", "-w", "%{http_code}", "http://"+addr+target); out != "400" {
			t.Errorf("%s: %s", target, out)
		}
	}
	if out := run("-o", "/dev/null", "-w", "%{http_code}", "http://"+addr+"/link-out"); out != "404" {
		t.Errorf("/link-out: %s", out)
	}
}

// TestServeDirLarge: eddy serve -dir sends a 64 MiB (sparse) file to a
// client that reads slowly; the server's memory stays far below the
// file's size, since the file goes out with sendfile.
func TestServeDirLarge(t *testing.T) {
	bin := buildEddy(t)
	root := t.TempDir()
	const size = 64 << 20
	f, err := os.Create(filepath.Join(root, "disk.img"))
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(size)
	f.WriteAt([]byte("the end"), size-7)
	f.Close()
	p := startServe(t, bin, "-quiet", "-dir", root)
	c := testutil.DialRecvBuf(t, p.addr, 64<<10, 20*time.Second)
	br := bufio.NewReader(c)
	fmt.Fprintf(c, "GET /disk.img HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 200 || resp.ContentLength != size {
		t.Fatalf("%v, %v", resp, err)
	}
	buf := make([]byte, 1<<20)
	var got int64
	maxRSS := int64(0)
	for got < size {
		n, err := io.ReadFull(resp.Body, buf[:min(int64(len(buf)), size-got)])
		if err != nil {
			t.Fatalf("at %d: %v", got, err)
		}
		got += int64(n)
		if got%(16<<20) == 0 {
			// A slow reader, paced in real time: while it pauses, the
			// server meets a full socket and must wait, which is where a
			// server that read the file into memory would grow.
			time.Sleep(50 * time.Millisecond)
			maxRSS = max(maxRSS, rssOf(t, p.cmd.Process.Pid))
		}
	}
	if string(buf[(size-7)%(1<<20):][:7]) != "the end" {
		t.Errorf("the last bytes: %q", buf[len(buf)-7:])
	}
	if maxRSS > 48<<20 {
		t.Errorf("eddy serve grew to %d MiB while sending a 64 MiB file", maxRSS>>20)
	}
	t.Logf("eddy serve's RSS peaked at %d KiB", maxRSS>>10)
	p.stop(t, syscall.SIGTERM, "terminated: stopped after 1 connection and 1 request")
}

// rssOf returns the resident set size of the process pid, from
// /proc/PID/status (0 where there is no /proc).
func rssOf(t *testing.T, pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func TestServeUsage(t *testing.T) {
	for _, args := range [][]string{
		{"-loops", "-1"}, {"-addr", "nonsense"}, {"extra"}, {"-nosuchflag"}, {"-dir", "/nonexistent/eddy"},
		{"-backend", "select"},
	} {
		var stderr bytes.Buffer
		if status := runServe(args, io.Discard, &stderr); status != 2 {
			t.Errorf("eddy serve %q: status %d, want 2\n%s", args, status, stderr.String())
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var out bytes.Buffer
	if status := runServe([]string{"-addr", l.Addr().String(), "-quiet"}, io.Discard, &out); status != 1 {
		t.Errorf("eddy serve on a busy address: status %d, want 1\n%s", status, out.String())
	}
	var stderr bytes.Buffer
	if status := runServe([]string{"-h"}, io.Discard, &stderr); status != 0 || !strings.Contains(stderr.String(), "usage: eddy serve") {
		t.Errorf("eddy serve -h: status %d\n%s", status, stderr.String())
	}
}
