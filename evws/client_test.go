package evws_test

import (
	"bytes"
	"crypto/tls"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/eddyloop/eddy/evhttp"
	"github.com/eddyloop/eddy/evhttp/evclient"
	"github.com/eddyloop/eddy/evnet"
	"github.com/eddyloop/eddy/evws"
	"github.com/eddyloop/eddy/internal/testutil"
	"github.com/eddyloop/eddy/internal/testutil/testloop"
)

// result is what a client saw.
type result struct {
	msgs  []string
	ops   []evws.Opcode
	err   error
	proto string
	comp  bool
}

// talk dials url with evws's client on a loop of its own, sends msgs
// (binary when they start with "b:"), closes after the last echo, and
// returns what came back.
func talk(t *testing.T, url string, cfg *evws.Config, ccfg *evclient.Config, msgs ...string) result {
	t.Helper()
	rl := testloop.Start(t)
	done := make(chan result, 1)
	var r result
	rl.Do(func() {
		cl := evclient.New(rl.Loop, ccfg)
		_, err := evws.Dial(cl, url, cfg, evws.Handler{
			OnOpen: func(c *evws.Conn) {
				r.proto, r.comp = c.Subprotocol(), c.Compressed()
				for _, m := range msgs {
					op := evws.Text
					if b, ok := strings.CutPrefix(m, "b:"); ok {
						op, m = evws.Binary, b
					}
					c.WriteMessage(op, []byte(m))
				}
				if len(msgs) == 0 {
					c.Close(evws.CloseNormal, "bye")
				}
			},
			OnMessage: func(c *evws.Conn, op evws.Opcode, p []byte) {
				r.msgs = append(r.msgs, string(p))
				r.ops = append(r.ops, op)
				if len(r.msgs) == len(msgs) {
					c.Close(evws.CloseNormal, "bye")
				}
			},
			OnClose: func(c *evws.Conn, err error) {
				r.err = err
				cl.Close()
				done <- r
			},
		})
		if err != nil {
			r.err = err
			done <- r
		}
	})
	select {
	case r := <-done:
		return r
	case <-time.After(20 * time.Second):
		t.Fatal("client did not finish")
	}
	return result{}
}

func isNormalClose(err error) bool {
	var ce *evws.CloseError
	return errors.As(err, &ce) && ce.Code == evws.CloseNormal && !ce.Remote
}

func TestClient(t *testing.T) {
	for _, deflate := range []bool{false, true} {
		s := startServer(t, &evws.Config{Deflate: deflate, Subprotocols: []string{"chat", "superchat"}}, echoHandler)
		long := strings.Repeat("a longer message that compresses ", 5000)
		r := talk(t, "ws://"+s.addr.String()+"/", &evws.Config{Deflate: deflate, Subprotocols: []string{"superchat", "chat"}}, nil,
			"hello", "b:\x00\x01", long, "b:"+long, "")
		if !isNormalClose(r.err) {
			t.Fatalf("deflate %v: closed with %v", deflate, r.err)
		}
		want := []string{"hello", "\x00\x01", long, long, ""}
		if len(r.msgs) != len(want) || r.proto != "chat" || r.comp != deflate {
			t.Fatalf("deflate %v: %d messages, proto %q, compressed %v", deflate, len(r.msgs), r.proto, r.comp)
		}
		for i := range want {
			wop := evws.Text
			if i == 1 || i == 3 {
				wop = evws.Binary
			}
			if r.msgs[i] != want[i] || r.ops[i] != wop {
				t.Fatalf("deflate %v: message %d: %v %.40q", deflate, i, r.ops[i], r.msgs[i])
			}
		}
	}
}

func TestClientTLS(t *testing.T) {
	pki := testutil.TestPKI(t)
	rl := testloop.Start(t)
	// The echo goes through WritePrepared: evnet's WriteShared is Write
	// on a TLS connection.
	prepEcho := evws.Handler{OnMessage: func(c *evws.Conn, op evws.Opcode, p []byte) {
		m, _ := evws.NewPrepared(op, p, true)
		c.WritePrepared(m)
	}}
	port := serveTLS(t, rl, evws.NewUpgrader(&evws.Config{Deflate: true}, prepEcho))
	big := strings.Repeat("x", 200_000)
	r := talk(t, "wss://localhost:"+itoa(int(port))+"/", &evws.Config{Deflate: true}, &evclient.Config{TLS: &tls.Config{RootCAs: pki.CAPool}}, "over tls", big)
	if !isNormalClose(r.err) || len(r.msgs) != 2 || r.msgs[0] != "over tls" || r.msgs[1] != big || !r.comp {
		t.Fatalf("wss: %v, %d messages", r.err, len(r.msgs))
	}
}

// serveTLS serves h over TLS with the test PKI's certificate on rl, and
// returns the port.
func serveTLS(t *testing.T, rl *testloop.Loop, h evhttp.Handler) uint16 {
	srv := &evhttp.Server{Handler: h,
		ListenConfig: evnet.ListenConfig{TLS: &evnet.TLSConfig{Config: testutil.TestPKI(t).ServerConfig()}}}
	var port uint16
	rl.Do(func() {
		ln, err := srv.Serve(rl.Loop, "tcp", "127.0.0.1:0")
		if err != nil {
			t.Error(err)
			return
		}
		port = ln.Addr().Port()
	})
	t.Cleanup(func() { srv.Close() })
	return port
}

func itoa(n int) string {
	var b []byte
	for n > 0 || len(b) == 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}

func TestClientRefused(t *testing.T) {
	rl := testloop.Start(t)
	srv := &evhttp.Server{Handler: evhttp.HandlerFunc(func(w *evhttp.ResponseWriter, r *evhttp.Request) {
		w.WriteHeader(404)
	})}
	var addr string
	rl.Do(func() {
		ln, _ := srv.Serve(rl.Loop, "tcp", "127.0.0.1:0")
		addr = ln.Addr().String()
	})
	t.Cleanup(func() { srv.Close() })
	r := talk(t, "ws://"+addr+"/", nil, nil, "x")
	if !errors.Is(r.err, evws.ErrHandshake) || !strings.Contains(r.err.Error(), "404") {
		t.Fatalf("err %v, want ErrHandshake with 404", r.err)
	}
}

// TestStream: OnFragment gets a large message in pieces, never whole.
func TestStream(t *testing.T) {
	var pieces, total int
	var lastSeen bool
	got := make(chan struct{})
	s := startServer(t, &evws.Config{MaxMessageBytes: 1 << 10}, evws.Handler{
		OnFragment: func(c *evws.Conn, op evws.Opcode, p []byte, last bool) {
			pieces++
			total += len(p)
			if last {
				lastSeen = true
				c.WriteMessage(evws.Text, []byte(itoa(total)))
				close(got)
			}
		},
	})
	rc := upgradeRaw(t, s.addr, "")
	big := bytes.Repeat([]byte("é"), 1<<20) // 2 MiB: past MaxMessageBytes, which streaming ignores
	f := frame(0x81, true, big)
	for len(f) > 0 {
		n := min(len(f), 100_000)
		rc.send(f[:n])
		f = f[n:]
	}
	<-got
	rc.expect(0x81, itoa(2<<20))
	s.rl.Do(func() {
		if pieces < 2 || !lastSeen {
			t.Errorf("%d pieces", pieces)
		}
	})
}
