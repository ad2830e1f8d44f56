package main

// Tests of "eddy serve" against load generators that are not Go (wrk, ab,
// h2load; test.sh installs them), an in-order check of pipelined file
// responses, and 10,000 connections open at once.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/eddyloop/eddy/internal/testutil"
)

// runPeer runs a load generator for at most 60s and returns its standard
// output; a failure to run or a nonzero exit fails the test.
func runPeer(t *testing.T, path string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %q: %v\n%s\n%s", filepath.Base(path), args, err, out, stderr.String())
	}
	return string(out)
}

// match returns the submatches of re in out as integers; no match fails
// the test.
func match(t *testing.T, re, out string) []int {
	t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no %q in the output:\n%s", re, out)
	}
	var n []int
	for _, s := range m[1:] {
		v, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("%q in %q: %v", s, m[0], err)
		}
		n = append(n, v)
	}
	return n
}

// wrkPipeline is TechEmpower's pipeline.lua with distinct targets: each
// write of a connection carries 16 requests, /?n=1 to /?n=16. done prints
// the totals on a line of their own, so they need not be scraped from the
// report (which leaves out the error lines when they are zero).
const wrkPipeline = `
init = function(args)
  local r = {}
  for i = 1, 16 do
    r[i] = wrk.format("GET", "/?n=" .. i)
  end
  req = table.concat(r)
end

request = function()
  return req
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("eddy-wrk requests=%d connect=%d read=%d write=%d status=%d timeout=%d\n",
    summary.requests, e.connect, e.read, e.write, e.status, e.timeout))
end
`

// TestServeWrkPipelined loads eddy serve with wrk, 16 requests pipelined
// per write, for 2 seconds: no socket error, no error status, no timeout.
// wrk does not check the order of the answers, so "order" pipelines 1000
// requests for distinct files on each of 4 connections and checks every
// answer, in order, and that none is lost or repeated.
func TestServeWrkPipelined(t *testing.T) {
	bin := buildEddy(t)

	t.Run("wrk", func(t *testing.T) {
		wrk := testutil.NeedPeer(t, "wrk", "wrk")
		script := filepath.Join(t.TempDir(), "pipeline.lua")
		if err := os.WriteFile(script, []byte(wrkPipeline), 0o644); err != nil {
			t.Fatal(err)
		}
		p := startServe(t, bin, "-quiet")
		out := runPeer(t, wrk, "-t", "2", "-c", "8", "-d", "2s", "--timeout", "5s", "-s", script, "http://"+p.addr+"/")
		n := match(t, `eddy-wrk requests=(\d+) connect=(\d+) read=(\d+) write=(\d+) status=(\d+) timeout=(\d+)`, out)
		if n[0] == 0 || n[1]+n[2]+n[3]+n[4]+n[5] != 0 {
			t.Errorf("wrk: %d requests; errors: connect %d, read %d, write %d, status %d, timeout %d\n%s",
				n[0], n[1], n[2], n[3], n[4], n[5], out)
		}
		if rate := regexp.MustCompile(`Requests/sec:\s+\S+`).FindString(out); rate != "" {
			t.Logf("wrk, 8 connections, 16 pipelined: %d requests, %s", n[0], rate)
		}
		// wrk stops with requests in flight, which the server answers
		// too: it counts at least as many.
		p.stop(t, syscall.SIGTERM, "terminated: stopped after")
		last := p.stderr.String()
		served := match(t, `stopped after \d+ connections and (\d+) requests`, last)[0]
		if served < n[0] {
			t.Errorf("the server counted %d requests, wrk %d", served, n[0])
		}
		if strings.Count(last, "\n") != 2 {
			t.Errorf("the server's stderr:\n%s", last)
		}
	})

	t.Run("order", func(t *testing.T) {
		const files = 1000
		root := t.TempDir()
		content := make([]string, files)
		for i := range files {
			content[i] = strings.Repeat(fmt.Sprintf("<%d>", i), 1+i%13)
			if i%97 == 0 { // past the server's direct-write size, and sendfile's
				content[i] = strings.Repeat(fmt.Sprintf("[%d]", i), (40<<10)/6+i)
			}
			if err := os.WriteFile(filepath.Join(root, fmt.Sprintf("%d.txt", i)), []byte(content[i]), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		p := startServe(t, bin, "-quiet", "-dir", root)
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for k := range 4 {
			wg.Go(func() { errs <- pipelineFiles(p.addr, k, content) })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
		p.stop(t, syscall.SIGTERM, fmt.Sprintf("stopped after 4 connections and %d requests", 4*(files+1)))
	})
}

// pipelineFiles writes, in one go, a request for every file of content
// (the k-th connection in an order of its own: a GET, a HEAD every 7th, a
// GET for a missing file every 11th) and a last request that closes, and
// reads the answers as they come: each must be the one for its request.
func pipelineFiles(addr string, k int, content []string) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	type want struct {
		method, target string
		status         int
		body           string
	}
	n := len(content)
	wants := make([]want, 0, n+1)
	var reqs strings.Builder
	for i := range n {
		f := (i*7 + k*250) % n // 7 is prime to 1000: every file once
		w := want{"GET", fmt.Sprintf("/%d.txt?pos=%d", f, i), 200, content[f]}
		switch {
		case i%11 == 5:
			w = want{"GET", fmt.Sprintf("/missing-%d.txt", i), 404, ""}
		case i%7 == 3:
			w.method = "HEAD"
		}
		wants = append(wants, w)
		fmt.Fprintf(&reqs, "%s %s HTTP/1.1\r\nHost: x\r\n\r\n", w.method, w.target)
	}
	wants = append(wants, want{"GET", "/0.txt", 200, content[0]})
	reqs.WriteString("GET /0.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	wrote := make(chan error, 1)
	go func() {
		_, err := io.WriteString(c, reqs.String())
		wrote <- err
	}()
	err = func() error {
		br := bufio.NewReader(c)
		for i, w := range wants {
			resp, err := http.ReadResponse(br, &http.Request{Method: w.method})
			if err != nil {
				return fmt.Errorf("connection %d, answer %d of %d (%s %s): %v", k, i, len(wants), w.method, w.target, err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != w.status {
				return fmt.Errorf("connection %d, answer %d (%s %s): %s %.60q, %v; want %d",
					k, i, w.method, w.target, resp.Status, body, err, w.status)
			}
			if w.status != 200 {
				continue
			}
			if w.method == "HEAD" {
				if len(body) != 0 || resp.ContentLength != int64(len(w.body)) {
					return fmt.Errorf("connection %d, answer %d (HEAD %s): Content-Length %d, %d bytes of body; want %d, none",
						k, i, w.target, resp.ContentLength, len(body), len(w.body))
				}
			} else if string(body) != w.body {
				return fmt.Errorf("connection %d, answer %d (GET %s): %d bytes %.40q, want %d bytes %.40q",
					k, i, w.target, len(body), body, len(w.body), w.body)
			}
		}
		if rest, err := io.ReadAll(br); len(rest) > 0 || err != nil {
			return fmt.Errorf("connection %d: after the last answer, %.100q and %v, want EOF", k, rest, err)
		}
		return nil
	}()
	if err != nil {
		c.Close() // unblocks the writer
	}
	if werr := <-wrote; err == nil && werr != nil {
		err = fmt.Errorf("connection %d: writing the requests: %v", k, werr)
	}
	return err
}

// TestServeAb runs ApacheBench with keep-alive (HTTP/1.0 and "Connection:
// Keep-Alive", so the server must say keep-alive back): every request
// complete, none failed (ab counts a body of another length as failed),
// all on the 20 first connections, all 2xx.
func TestServeAb(t *testing.T) {
	ab := testutil.NeedPeer(t, "ab", "apache2-utils")
	p := startServe(t, buildEddy(t), "-quiet")
	out := runPeer(t, ab, "-k", "-n", "2000", "-c", "20", "-s", "10", "http://"+p.addr+"/")
	for _, tc := range []struct {
		re   string
		want int
	}{
		{`(?m)^Complete requests:\s+(\d+)$`, 2000},
		{`(?m)^Failed requests:\s+(\d+)$`, 0},
		{`(?m)^Keep-Alive requests:\s+(\d+)$`, 2000},
		{`(?m)^Document Length:\s+(\d+) bytes$`, len(helloBody)},
	} {
		if got := match(t, tc.re, out)[0]; got != tc.want {
			t.Errorf("ab: %s: %d, want %d", tc.re, got, tc.want)
		}
	}
	if strings.Contains(out, "Non-2xx responses") {
		t.Errorf("ab saw error statuses:\n%s", out)
	}
	if rate := regexp.MustCompile(`Requests per second:\s+\S+`).FindString(out); rate != "" {
		t.Logf("ab -k -c 20: %s", rate)
	}
	p.stop(t, syscall.SIGTERM, "terminated: stopped after 20 connections and 2000 requests")
}

// TestServeH2load runs h2load over HTTP/1.1 with 4 requests pipelined per
// connection: all succeeded, all 2xx, on the 10 first connections.
func TestServeH2load(t *testing.T) {
	h2load := testutil.NeedPeer(t, "h2load", "nghttp2-client")
	p := startServe(t, buildEddy(t), "-quiet")
	out := runPeer(t, h2load, "--h1", "-n", "2000", "-c", "10", "-m", "4", "http://"+p.addr+"/")
	n := match(t, `requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout`, out)
	if n[0] != 2000 || n[3] != 2000 || n[4]+n[5]+n[6] != 0 {
		t.Errorf("h2load: %d total, %d succeeded, %d failed, %d errored, %d timeout; want 2000 succeeded\n%s",
			n[0], n[3], n[4], n[5], n[6], out)
	}
	if s := match(t, `status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx`, out); s[0] != 2000 {
		t.Errorf("h2load: status codes %v, want 2000 2xx", s)
	}
	if rate := regexp.MustCompile(`finished in \S+, \S+ req/s`).FindString(out); rate != "" {
		t.Logf("h2load --h1 -c 10 -m 4: %s", rate)
	}
	p.stop(t, syscall.SIGTERM, "terminated: stopped after 10 connections and 2000 requests")
}

// TestServe10kConns opens 10,000 connections to eddy serve (in a process
// of its own, so each side holds 10,000 descriptors): 1000 send half a
// request head and stop (slowloris), 9000 make a request each and stay
// open, idle. With all of them open, a new connection is answered at once,
// the server's memory has grown by a few KiB per connection at most, and
// a second request on 1000 of the idle ones is answered. The slowloris
// heads are then finished and answered, if the server's header timeout
// (10s) has not run out.
func TestServe10kConns(t *testing.T) {
	const (
		slow    = 1000
		total   = 10000
		sample  = 1000
		workers = 8
	)
	raiseNofile(t, total+500)
	p := startServe(t, buildEddy(t), "-quiet")
	addr := p.addr
	pid := p.cmd.Process.Pid

	conns := make([]net.Conn, total)
	t.Cleanup(func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	})
	// each runs f(i, c, br) for i in [from, to) on workers goroutines,
	// and fails the test with the first error.
	each := func(what string, from, to, step int, f func(i int, br *bufio.Reader) error) {
		t.Helper()
		var next atomic.Int64
		next.Store(int64(from))
		var failed atomic.Bool
		errs := make(chan error, workers)
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				br := bufio.NewReaderSize(nil, 512)
				for !failed.Load() {
					i := int(next.Add(int64(step))) - step
					if i >= to {
						break
					}
					if err := f(i, br); err != nil {
						failed.Store(true)
						errs <- fmt.Errorf("%s, connection %d: %w", what, i, err)
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	dialer := net.Dialer{Timeout: 10 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	dial := func(i int) (net.Conn, error) {
		c, err := dialer.Dial("tcp", addr)
		if err != nil {
			return nil, err
		}
		c.SetDeadline(deadline)
		conns[i] = c
		return c, nil
	}
	request := func(c net.Conn, br *bufio.Reader) error {
		if _, err := io.WriteString(c, getRequest); err != nil {
			return err
		}
		br.Reset(c)
		return readHello(br)
	}

	// The baseline: the server has answered once.
	c0, br0 := dialServe(t, addr)
	io.WriteString(c0, getRequest)
	readHellos(t, br0, 1)
	c0.Close()
	rss0 := rssOf(t, pid)
	start := time.Now()

	slowStart := time.Now()
	half := getRequest[:len(getRequest)/2]
	each("slowloris", 0, slow, 1, func(i int, br *bufio.Reader) error {
		c, err := dial(i)
		if err != nil {
			return err
		}
		_, err = io.WriteString(c, half)
		return err
	})
	rssSlow := rssOf(t, pid)
	each("first request", slow, total, 1, func(i int, br *bufio.Reader) error {
		c, err := dial(i)
		if err != nil {
			return err
		}
		return request(c, br)
	})
	opened := time.Since(start)
	rssAll := rssOf(t, pid)

	// A new connection, with 10,000 others open, is answered at once.
	t0 := time.Now()
	c1, br1 := dialServe(t, addr)
	io.WriteString(c1, getRequest)
	readHellos(t, br1, 1)
	c1.Close()
	fresh := time.Since(t0)
	if fresh > 2*time.Second {
		t.Errorf("a new connection took %v to be answered, with %d others open", fresh, total)
	}
	if rss0 != 0 {
		perSlow := (rssSlow - rss0) / slow
		perConn := (rssAll - rssSlow) / (total - slow)
		perAll := (rssAll - rss0) / total
		t.Logf("eddy serve's RSS: %d KiB idle, %d KiB with %d connections open: %d bytes per connection "+
			"(%d per half head, %d per idle keep-alive connection)", rss0>>10, rssAll>>10, total, perAll, perSlow, perConn)
		if perAll > 4<<10 {
			t.Errorf("eddy serve's RSS grew by %d bytes per connection (%d KiB to %d KiB for %d connections), want under 4 KiB",
				perAll, rss0>>10, rssAll>>10, total)
		}
	}

	// Keep-alive still works on the idle connections.
	each("second request", slow, total, (total-slow)/sample, func(i int, br *bufio.Reader) error {
		return request(conns[i], br)
	})
	// The slowloris heads, finished before the header timeout, are answered.
	if elapsed := time.Since(slowStart); elapsed < 7*time.Second {
		each("rest of the head", 0, slow, 1, func(i int, br *bufio.Reader) error {
			if _, err := io.WriteString(conns[i], getRequest[len(half):]); err != nil {
				return err
			}
			br.Reset(conns[i])
			return readHello(br)
		})
	} else {
		t.Logf("not finishing the slowloris heads: %v after them, the server's 10s header timeout is too near", elapsed)
	}
	t.Logf("%d connections opened and answered in %v; a new one answered in %v; all done in %v",
		total, opened, fresh, time.Since(start))

	for i, c := range conns {
		c.Close()
		conns[i] = nil
	}
	p.stop(t, syscall.SIGTERM, fmt.Sprintf("terminated: stopped after %d connections", total+2))
}

// readHello reads one Hello, World! answer that keeps the connection open.
func readHello(br *bufio.Reader) error {
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || string(body) != helloBody || resp.Close {
		return fmt.Errorf("%s %q close %v, %v", resp.Status, body, resp.Close, err)
	}
	return nil
}

// raiseNofile makes sure this process may open need descriptors, raising
// its soft RLIMIT_NOFILE up to the hard limit if it must (Go's runtime has
// usually done so already), and skips the test if the hard limit is lower.
// A child inherits the raised limit; eddy, in Go, raises its own anyway.
func raiseNofile(t *testing.T, need uint64) {
	t.Helper()
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatalf("getrlimit: %v", err)
	}
	// The fields are int64 on the BSDs, uint64 on Linux.
	if uint64(lim.Cur) >= need {
		return
	}
	if uint64(lim.Max) < need {
		t.Skipf("RLIMIT_NOFILE hard limit is %d; this test needs %d descriptors (raise it with ulimit -Hn)", lim.Max, need)
	}
	old := lim
	lim.Cur = lim.Max
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatalf("setrlimit %d: %v", lim.Cur, err)
	}
	t.Cleanup(func() { unix.Setrlimit(unix.RLIMIT_NOFILE, &old) })
}
