package evws_test

import (
	"crypto/tls"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/eddyloop/eddy/evhttp"
	"github.com/eddyloop/eddy/evhttp/evclient"
	"github.com/eddyloop/eddy/evws"
	"github.com/eddyloop/eddy/internal/testutil"
	"github.com/eddyloop/eddy/internal/testutil/testloop"
)

// TestUpgradeHTTP: a standard http.Handler served by evhttp.Adapt
// upgrades through evhttp.UpgradeAdapted, and the connection runs on its
// loop; a plain GET to it gets 426.
func TestUpgradeHTTP(t *testing.T) {
	rl := testloop.Start(t)
	u := evws.NewUpgrader(&evws.Config{Deflate: true}, echoHandler)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.UpgradeHTTP(w, r)
	})
	srv := &evhttp.Server{Handler: evhttp.Adapt(h, nil)}
	s := &server{rl: rl, srv: srv}
	rl.Do(func() {
		ln, err := srv.Serve(rl.Loop, "tcp", "127.0.0.1:0")
		if err != nil {
			t.Error(err)
			return
		}
		s.addr = ln.Addr()
	})
	t.Cleanup(func() { srv.Close() })
	rc := upgradeRaw(t, s.addr, "")
	rc.send(frame(0x81, true, []byte("through the adapter")))
	rc.expect(0x81, "through the adapter")
	rc.send(frame(0x82, true, []byte{1, 2, 3}))
	rc.expect(0x82, "\x01\x02\x03")
	rc.send(frame(0x88, true, []byte{0x03, 0xe8}))
	rc.expect(0x88, "\x03\xe8")

	r := talk(t, "ws://"+s.addr.String()+"/", &evws.Config{Deflate: true}, nil, "deflated through the adapter, long enough to be compressed by both")
	if !isNormalClose(r.err) || len(r.msgs) != 1 || !r.comp {
		t.Fatalf("client through the adapter: %v %q compressed %v", r.err, r.msgs, r.comp)
	}
	if got := roundTrip(t, s, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); got[:13] != "HTTP/1.1 426 " {
		t.Fatalf("plain GET: %q", got)
	}
}

// TestUpgradeHTTPTLS: the same over TLS, where the connection keeps its
// TLS state on the loop (wss through the adapter); a ResponseWriter that
// is not the adapter's is refused.
func TestUpgradeHTTPTLS(t *testing.T) {
	pki := testutil.TestPKI(t)
	rl := testloop.Start(t)
	u := evws.NewUpgrader(&evws.Config{Deflate: true}, echoHandler)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil {
			t.Error("no TLS state in the adapted request")
		}
		u.UpgradeHTTP(w, r)
	})
	port := serveTLS(t, rl, evhttp.Adapt(h, nil))
	big := strings.Repeat("y", 300_000)
	r := talk(t, "wss://localhost:"+itoa(int(port))+"/", &evws.Config{Deflate: true},
		&evclient.Config{TLS: &tls.Config{RootCAs: pki.CAPool}}, "wss through the adapter", big)
	if !isNormalClose(r.err) || len(r.msgs) != 2 || r.msgs[0] != "wss through the adapter" || r.msgs[1] != big || !r.comp {
		t.Fatalf("wss through the adapter: %v, %d messages", r.err, len(r.msgs))
	}

	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	if err := u.UpgradeHTTP(rec, req); !errors.Is(err, evhttp.ErrNotAdapted) || rec.Code != 400 {
		t.Errorf("under another server: %v, status %d; want ErrNotAdapted and 400", err, rec.Code)
	}
}
