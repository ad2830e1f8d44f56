package interop

import (
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/eddyloop/eddy/evhttp"
	"github.com/eddyloop/eddy/internal/testutil"
	"github.com/eddyloop/eddy/internal/testutil/testloop"
)

// TestChromium: headless Chromium opens a page served by evhttp
// (testdata/peers/browser.html) whose script takes the client's part of
// the exchange (peers_test.go) with evws's server, permessage-deflate on,
// and reports what it saw to the page's server.
func TestChromium(t *testing.T) {
	chromium := testutil.NeedPeer(t, "chromium", "chromium")
	page, err := os.ReadFile("testdata/peers/browser.html")
	if err != nil {
		t.Fatal(err)
	}
	rl := testloop.Start(t)
	ws := startEvwsServer(t, rl)
	reports := make(chan string, 1)
	site := serve(t, rl, &evhttp.Server{Handler: evhttp.HandlerFunc(func(w *evhttp.ResponseWriter, r *evhttp.Request) {
		switch string(r.Path()) {
		case "/":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Write(page)
		case "/report":
			report, err := url.QueryUnescape(string(r.RawQuery()))
			if err != nil {
				report = err.Error()
			}
			select {
			case reports <- report:
			default:
			}
			w.WriteHeader(204)
		default:
			w.WriteHeader(404)
		}
	})})

	profile := t.TempDir() // removed after the browser is killed
	startProcess(t, exec.Command(chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--user-data-dir="+profile,
		"http://"+site+"/?ws="+url.QueryEscape(ws.url)), 0)
	var report struct {
		OK    bool
		Error string
		Log   []string
	}
	select {
	case r := <-reports:
		if err := json.Unmarshal([]byte(r), &report); err != nil {
			t.Fatalf("the page's report %q: %v", r, err)
		}
	case <-time.After(peerTimeout):
		t.Fatal("the page did not report")
	}
	t.Logf("the page:\n%s", strings.Join(report.Log, "\n"))
	if !report.OK {
		t.Fatalf("the page: %s", report.Error)
	}
	ws.check(t, true)
	checkWire(t, ws.tap.wait(t, 2), true)
}
