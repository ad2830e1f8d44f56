package evhttp_test

import (
	"testing"
	"time"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evhttp"
	"github.com/eddyloop/eddy/evnet"
	"github.com/eddyloop/eddy/internal/testutil"
)

// TestStatsFake counts requests by status class and their durations on
// the fake clock: a response from a timer 250ms later takes exactly
// 250ms, those answered at once 0.
func TestStatsFake(t *testing.T) {
	s := fkStart(t, &evhttp.Server{})
	c := s.dial()
	c.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, _, _ := c.awaitResponse("GET", time.Second); resp.StatusCode != 200 {
		t.Fatalf("GET /: %d", resp.StatusCode)
	}
	c.write("GET /slow?ms=250 HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, _, _ := c.awaitResponse("GET", time.Second); resp.StatusCode != 200 {
		t.Fatalf("GET /slow: %d", resp.StatusCode)
	}
	c.write("GET /reject HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, _, _ := c.awaitResponse("GET", time.Second); resp.StatusCode != 403 {
		t.Fatalf("GET /reject: %d", resp.StatusCode)
	}
	c.write("GET / HTTP/1.1\r\nHost: x\r\nBad header\r\n\r\n") // 400 by the server itself
	if resp, _, _ := c.awaitResponse("GET", time.Second); resp.StatusCode != 400 {
		t.Fatalf("malformed: %d", resp.StatusCode)
	}
	st := s.srv.Stats()
	if st.Requests != [6]uint64{0, 0, 2, 0, 2, 0} || st.Total() != 4 {
		t.Errorf("Requests = %v, want 2 2xx and 2 4xx", st.Requests)
	}
	var want eddy.Histogram
	want.Counts[0] = 2
	want.Counts[18] = 1 // 250ms: above 131.072ms, at most 262.144ms
	want.Sum = 250 * time.Millisecond
	if st.Duration != want {
		t.Errorf("Duration = %+v,\nwant %+v", st.Duration, want)
	}
	if st.Conns.Accepted != 0 {
		t.Errorf("Conns.Accepted = %d: the adopted connection is no listener's", st.Conns.Accepted)
	}
}

// TestStatsListeners: a Server's Stats sum its listeners' connections,
// read from another goroutine while the loop runs.
func TestStatsListeners(t *testing.T) {
	s := svStart(t, &evhttp.Server{})
	for range 3 {
		c, br := svDial(t, s.addr)
		c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /missing/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
		svRead(t, br, "GET")
		svRead(t, br, "GET")
		svExpectEOF(t, c, br)
	}
	var st evhttp.ServerStats
	ok := testutil.Eventually(10*time.Second, func() bool {
		st = s.srv.Stats()
		return st.Conns.Open() == 0 && st.Total() == 6
	})
	if !ok || st.Conns.Accepted != 3 || st.Requests != [6]uint64{0, 0, 3, 0, 3, 0} || st.Conns.Closed[evnet.CloseLocal] != 3 || st.Conns.BytesIn == 0 || st.Conns.BytesOut == 0 {
		t.Errorf("Stats() = %+v, want 3 connections accepted and closed by the server, 3 requests 2xx and 3 4xx", st)
	}
}
