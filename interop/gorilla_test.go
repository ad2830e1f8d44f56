package interop

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/eddyloop/eddy/internal/wsconform"
	"github.com/gorilla/websocket"
)

// gorillaEcho is an echo server written as gorilla's own Autobahn example
// writes it: gorilla does not check UTF-8 itself, so the handler checks
// each whole text message and closes with 1007.
func gorillaEcho(t *testing.T) string {
	up := websocket.Upgrader{
		EnableCompression: true,
		CheckOrigin:       func(*http.Request) bool { return true },
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		c.EnableWriteCompression(true)
		for {
			mt, p, err := c.ReadMessage()
			if err != nil {
				return
			}
			if mt == websocket.TextMessage && !utf8.Valid(p) {
				c.WriteControl(websocket.CloseMessage,
					websocket.FormatCloseMessage(websocket.CloseInvalidFramePayloadData, ""), time.Now().Add(time.Second))
				return
			}
			if err := c.WriteMessage(mt, p); err != nil {
				return
			}
		}
	})
	return serveLoopback(t, h)
}

// serveLoopback serves h with net/http on a loopback port until the test
// ends and returns its ws:// URL.
func serveLoopback(t *testing.T, h http.Handler) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "ws://" + ln.Addr().String() + "/"
}

// gorillaKnown is what gorilla/websocket v1.5.3 is known to do outside OK,
// as a server and as a client alike; every other case must be OK.
var gorillaKnown = map[string]wsconform.Grade{
	// UTF-8 is checked by the handler on whole messages (gorilla has no
	// check of its own), so invalid text fails the connection only
	// when the message is complete.
	"6.4.1": wsconform.NonStrict, "6.4.2": wsconform.NonStrict,
	"6.4.3": wsconform.NonStrict, "6.4.4": wsconform.NonStrict,
	// A close frame with a one-byte payload is taken for a close
	// without a code (conn.go: "if len(payload) >= 2") and answered
	// with an empty close, not failed with 1002 (RFC 6455 5.5.1).
	"7.3.2": wsconform.Failed,
	// No required behaviour.
	"7.1.6": wsconform.Informational, "7.13.1": wsconform.Informational, "7.13.2": wsconform.Informational,
}

func TestGorillaServer(t *testing.T) {
	url := gorillaEcho(t)
	checkReport(t, "gorilla/websocket server", gorillaKnown, func(cfg wsconform.Config) (*wsconform.Report, error) {
		cfg.URL = url
		return wsconform.RunClient(context.Background(), cfg)
	})
}

// checkReport runs the table and checks every grade against known.
func checkReport(t *testing.T, peer string, known map[string]wsconform.Grade, run func(wsconform.Config) (*wsconform.Report, error)) {
	t.Helper()
	rep, err := run(wsconform.Config{Short: testing.Short()})
	if err != nil {
		t.Fatal(err)
	}
	rep.Check(t, peer, known)
}
