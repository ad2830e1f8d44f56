package interop

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evhttp"
	"github.com/eddyloop/eddy/evhttp/evclient"
	"github.com/eddyloop/eddy/evws"
	gorilla "github.com/gorilla/websocket"
)

// startEddy runs an evws echo server on a loop of its own.
func startEddy(t *testing.T, cfg *evws.Config) (string, *eddy.Loop) {
	l, err := eddy.NewLoop(nil)
	if err != nil {
		t.Fatal(err)
	}
	u := evws.NewUpgrader(cfg, evws.Handler{OnMessage: func(c *evws.Conn, op evws.Opcode, p []byte) { c.WriteMessage(op, p) }})
	srv := &evhttp.Server{Handler: u}
	ln, err := srv.Serve(l, "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go l.Run()
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), l
}

// msgs are the messages echoed: short, compressible, 3 MiB, empty.
func msgs() [][]byte {
	return [][]byte{[]byte("hello"), bytes.Repeat([]byte("compress me please "), 5000), make([]byte, 3<<20), []byte("")}
}

// TestEvwsServerGorilla: gorilla's client, with and without compression,
// against evws's server: text and binary echoed, a clean close.
func TestEvwsServerGorilla(t *testing.T) {
	addr, _ := startEddy(t, &evws.Config{Deflate: true})
	for _, comp := range []bool{false, true} {
		d := gorilla.Dialer{EnableCompression: comp}
		c, resp, err := d.Dial("ws://"+addr+"/", nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("gorilla compression %v: ext %q", comp, resp.Header.Get("Sec-WebSocket-Extensions"))
		for _, m := range msgs() {
			for _, typ := range []int{gorilla.TextMessage, gorilla.BinaryMessage} {
				if err := c.WriteMessage(typ, m); err != nil {
					t.Fatal(err)
				}
				gt, got, err := c.ReadMessage()
				if err != nil || gt != typ || !bytes.Equal(got, m) {
					t.Fatalf("echo: %v %d %d bytes", err, gt, len(got))
				}
			}
		}
		c.WriteControl(gorilla.CloseMessage, gorilla.FormatCloseMessage(1000, "bye"), time.Now().Add(time.Second))
		_, _, err = c.ReadMessage()
		if ce, ok := err.(*gorilla.CloseError); !ok || ce.Code != 1000 {
			t.Fatalf("close: %v", err)
		}
		c.Close()
	}
}

// TestEvwsServerCoder: coder's client compressing against its
// context, without, and not at all, against evws's server.
func TestEvwsServerCoder(t *testing.T) {
	addr, _ := startEddy(t, &evws.Config{Deflate: true, ContextTakeoverBudget: 1 << 20})
	for _, mode := range []websocket.CompressionMode{websocket.CompressionContextTakeover, websocket.CompressionNoContextTakeover, websocket.CompressionDisabled} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		c, resp, err := websocket.Dial(ctx, "ws://"+addr+"/", &websocket.DialOptions{CompressionMode: mode, CompressionThreshold: 1})
		if err != nil {
			t.Fatal(err)
		}
		c.SetReadLimit(64 << 20)
		t.Logf("coder mode %v: ext %q", mode, resp.Header.Get("Sec-WebSocket-Extensions"))
		for i := 0; i < 5; i++ {
			for _, m := range msgs() {
				if err := c.Write(ctx, websocket.MessageText, m); err != nil {
					t.Fatal(err)
				}
				typ, got, err := c.Read(ctx)
				if err != nil || typ != websocket.MessageText || !bytes.Equal(got, m) {
					t.Fatalf("echo %d: %v %d bytes", i, err, len(got))
				}
			}
		}
		if err := c.Close(websocket.StatusNormalClosure, "bye"); err != nil {
			t.Fatalf("close: %v", err)
		}
		cancel()
	}
}

// TestEvwsClientGorillaCoder: evws's client, with and without
// compression, against gorilla's and coder's servers.
func TestEvwsClientGorillaCoder(t *testing.T) {
	gsrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := gorilla.Upgrader{EnableCompression: true}
		c, err := u.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		c.SetReadLimit(64 << 20)
		for {
			typ, p, err := c.ReadMessage()
			if err != nil {
				return
			}
			c.EnableWriteCompression(true)
			c.WriteMessage(typ, p)
		}
	}))
	defer gsrv.Close()
	csrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionContextTakeover})
		if err != nil {
			return
		}
		c.SetReadLimit(64 << 20)
		defer c.CloseNow()
		for {
			typ, p, err := c.Read(r.Context())
			if err != nil {
				return
			}
			c.Write(r.Context(), typ, p)
		}
	}))
	defer csrv.Close()
	for _, url := range []string{gsrv.URL, csrv.URL} {
		for _, comp := range []bool{false, true} {
			l, _ := eddy.NewLoop(nil)
			cl := evclient.New(l, nil)
			var got [][]byte
			var cerr error
			want := msgs()
			evws.Dial(cl, "ws"+strings.TrimPrefix(url, "http")+"/", &evws.Config{Deflate: comp, MaxMessageBytes: 64 << 20}, evws.Handler{
				OnOpen: func(c *evws.Conn) {
					t.Logf("%s compression %v: negotiated %v", url, comp, c.Compressed())
					for _, m := range want {
						c.WriteMessage(evws.Binary, m)
					}
				},
				OnMessage: func(c *evws.Conn, op evws.Opcode, p []byte) {
					got = append(got, bytes.Clone(p))
					if len(got) == len(want) {
						c.Close(evws.CloseNormal, "")
					}
				},
				OnClose: func(c *evws.Conn, err error) { cerr = err; cl.Close(); l.Break(eddy.BreakAll) },
			})
			l.Run()
			l.Close()
			if len(got) != len(want) {
				t.Fatalf("%s: %d messages, %v", url, len(got), cerr)
			}
			for i := range want {
				if !bytes.Equal(got[i], want[i]) {
					t.Fatalf("%s: message %d differs", url, i)
				}
			}
			t.Logf("closed: %v", cerr)
		}
	}
}
