package evproxy_test

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/eddyloop/eddy/evproxy"
)

// get fetches url with the test client and returns its status and body.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(body)
}

// refusedURL returns the URL of a port where nothing listens.
func refusedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + ln.Addr().String()
	ln.Close()
	return u
}

// TestUpstreamStats sends requests to an upstream that answers and one
// that refuses, and reads the figures of both.
func TestUpstreamStats(t *testing.T) {
	ok := stdUpstream(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	refused := refusedURL(t)
	addr, p := serveProxy(t, &evproxy.Config{Upstreams: []string{ok, refused}, MaxRetries: -1})
	if got := p.Upstreams(nil); len(got) != 0 {
		t.Errorf("before any request: %+v", got)
	}
	for range 4 {
		get(t, "http://"+addr+"/")
	}
	got := p.Upstreams(make([]evproxy.UpstreamStats, 1, 4))[1:]
	if len(got) != 2 {
		t.Fatalf("%d entries: %+v", len(got), got)
	}
	a, b := got[0], got[1]
	if a.Name != ok || a.Addr != strings.TrimPrefix(ok, "http://") || a.Requests != 2 || a.Failures != 0 || a.InFlight != 0 || a.Open != 1 {
		t.Errorf("the upstream that answers: %+v", a)
	}
	if b.Name != refused || b.Requests != 2 || b.Failures != 2 || b.InFlight != 0 || b.Open != 0 {
		t.Errorf("the upstream that refuses: %+v", b)
	}
	if allocs := testing.AllocsPerRun(100, func() { p.Upstreams(got[:0]) }); allocs != 0 {
		t.Errorf("Upstreams allocates %.0f times with room in dst", allocs)
	}
}
