package evhttp_test

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddyloop/eddy/evhttp"
)

// TestChaos mixes what clients do, with a fixed seed: pipelined GETs,
// bodies of every framing (echoed, summed, ignored), slow answers, HEAD,
// all sent in random pieces by several clients at once, some of which
// hang up half way. Every answer must be right and in order, and the
// server must end with no connection left. EVHTTP_CHAOS_SEED picks
// another seed.
func TestChaos(t *testing.T) {
	seed := uint64(7)
	if v := os.Getenv("EVHTTP_CHAOS_SEED"); v != "" {
		seed, _ = strconv.ParseUint(v, 10, 64)
	}
	s := svStart(t, &evhttp.Server{MaxPipelined: 4, MaxBodyBytes: 1 << 20})
	var wg sync.WaitGroup
	var mu sync.Mutex
	for client := range 12 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(client), seed))
			if err := chaosClient(s.addr, rng, client%4 == 3); err != nil {
				mu.Lock()
				t.Errorf("client %d: %v", client, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	// Everything is answered or cut: the server holds no connection.
	done := make(chan error, 1)
	go func() { done <- s.srv.Shutdown(t.Context()) }()
	select {
	case err := <-done:
		if err != nil {
			t.Error(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("connections left after the clients are gone")
	}
}

// chaosClient sends a random batch of requests in random pieces and
// checks the answers; with hangUp, it leaves after part of the batch.
func chaosClient(addr string, rng *rand.Rand, hangUp bool) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	var reqs strings.Builder
	type expect struct{ method, body string }
	var want []expect
	for range 20 + rng.IntN(30) {
		switch rng.IntN(8) {
		case 0, 1:
			p := fmt.Sprintf("/path/%d", rng.IntN(1000))
			fmt.Fprintf(&reqs, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", p)
			want = append(want, expect{"GET", p})
		case 2:
			body := strings.Repeat("e", rng.IntN(50000))
			fmt.Fprintf(&reqs, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
			want = append(want, expect{"POST", body})
		case 3:
			body := svPattern(rng.IntN(70000))
			fmt.Fprintf(&reqs, "POST /sum HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
			for b := body; len(b) > 0; {
				k := min(len(b), 1+rng.IntN(20000))
				fmt.Fprintf(&reqs, "%x\r\n%s\r\n", k, b[:k])
				b = b[k:]
			}
			reqs.WriteString("0\r\n\r\n")
			want = append(want, expect{"POST", svSum(body)})
		case 4:
			ms := rng.IntN(30)
			fmt.Fprintf(&reqs, "GET /slow?ms=%d HTTP/1.1\r\nHost: x\r\n\r\n", ms)
			want = append(want, expect{"GET", fmt.Sprintf("slow %d", ms)})
		case 5:
			body := strings.Repeat("i", rng.IntN(3000))
			fmt.Fprintf(&reqs, "POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
			want = append(want, expect{"POST", "Hello, World!"})
		case 6:
			fmt.Fprintf(&reqs, "HEAD /stream?n=%d HTTP/1.1\r\nHost: x\r\n\r\n", rng.IntN(40000))
			want = append(want, expect{"HEAD", ""})
		case 7:
			n := rng.IntN(60000)
			fmt.Fprintf(&reqs, "GET /stream?n=%d HTTP/1.1\r\nHost: x\r\n\r\n", n)
			want = append(want, expect{"GET", string(svChunk[:0]) + strings.Repeat("\x00", n)})
		}
	}
	b := []byte(reqs.String())
	if hangUp {
		b = b[:rng.IntN(len(b))]
	}
	writeErr := make(chan error, 1)
	go func() {
		for len(b) > 0 {
			k := min(len(b), 1+rng.IntN(3000))
			if _, err := c.Write(b[:k]); err != nil {
				writeErr <- err
				return
			}
			b = b[k:]
			if rng.IntN(4) == 0 {
				// Pacing, not waiting: a pause now and then has the
				// server read the requests in pieces cut anywhere.
				time.Sleep(time.Millisecond)
			}
		}
		writeErr <- nil
	}()
	if hangUp {
		err := <-writeErr
		c.(*net.TCPConn).SetLinger(0)
		return err
	}
	br := bufio.NewReader(c)
	for i, w := range want {
		resp, err := http.ReadResponse(br, &http.Request{Method: w.method})
		if err != nil {
			return fmt.Errorf("response %d of %d: %v", i, len(want), err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || string(body) != w.body {
			return fmt.Errorf("response %d (%s): %v, %.60q (%d bytes), %v; want %.60q (%d bytes)", i, w.method, resp.Status, body, len(body), err, w.body, len(w.body))
		}
	}
	return <-writeErr
}
