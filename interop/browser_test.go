package interop

import (
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eddyloop/eddy/evhttp"
	"github.com/eddyloop/eddy/evws"
	"github.com/eddyloop/eddy/internal/testutil"
	"github.com/eddyloop/eddy/internal/testutil/testloop"
)

// TestChromium: headless Chromium opens a page served by evhttp
// (testdata/peers/browser.html) whose script takes the client's part of
// the exchange (peers_test.go) with evws's server, with permessage-deflate
// accepted (the browser's compression context declined or kept) and
// declined.
func TestChromium(t *testing.T) {
	chromium := testutil.NeedPeer(t, "chromium", "chromium")
	for _, s := range append(evwsServers, struct {
		name string
		cfg  evws.Config
	}{"plain", evws.Config{}}) {
		t.Run(s.name, func(t *testing.T) {
			rl := testloop.Start(t)
			ws := startEvwsServer(t, rl, s.cfg)
			deflate := s.cfg.Deflate
			openPage(t, chromium, rl, ws.url, "exchange", deflate)
			ws.check(t, deflate, deflate, false)
			wires := ws.tap.wait(t, 2)
			checkWire(t, wires, true, deflate)
			if deflate {
				checkContext(t, wires["/b"], s.cfg.ContextTakeoverBudget > 0)
			}
		})
	}
}

// TestChromiumEddyWS: the page against the eddy ws command, as a user
// starts it, with and without -deflate: text, binary, 1 MiB, compressible
// text echoed, and a close with a code.
func TestChromiumEddyWS(t *testing.T) {
	chromium := testutil.NeedPeer(t, "chromium", "chromium")
	bin := eddyBinary(t)
	for _, deflate := range []bool{true, false} {
		t.Run("deflate="+strconv.FormatBool(deflate), func(t *testing.T) {
			u := startEddyWS(t, bin, "-deflate="+strconv.FormatBool(deflate))
			tp := startTap(t, strings.TrimSuffix(strings.TrimPrefix(u, "ws://"), "/"))
			openPage(t, chromium, testloop.Start(t), "ws://"+tp.addr, "echo", deflate)
			w := tp.wait(t, 1)["/e"]
			w.expect(t, []string{"text", "binary", "close 4001 client bye"}, []string{"text", "binary", "close 4001"})
			if deflate {
				w.expect(t, []string{"deflate"}, []string{"deflate"})
			} else {
				w.expectNone(t, "deflate")
			}
		})
	}
}

// openPage serves the page on rl and has Chromium open it, to talk to the
// WebSocket server at ws in mode (exchange or echo; see the page); it
// fails the test unless the page reports that every step went as it
// should.
func openPage(t *testing.T, chromium string, rl *testloop.Loop, ws, mode string, deflate bool) {
	t.Helper()
	page, err := os.ReadFile("testdata/peers/browser.html")
	if err != nil {
		t.Fatal(err)
	}
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
	q := url.Values{"ws": {ws}, "mode": {mode}, "deflate": {"0"}}
	if deflate {
		q.Set("deflate", "1")
	}

	profile := t.TempDir() // removed after the browser is killed
	startProcess(t, exec.Command(chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--user-data-dir="+profile, "http://"+site+"/?"+q.Encode()), 0)
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
}
