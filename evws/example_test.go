package evws_test

import (
	"fmt"
	"net/http"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evhttp"
	"github.com/eddyloop/eddy/evhttp/evclient"
	"github.com/eddyloop/eddy/evws"
)

// An echo server and a client on one loop: the client sends a message,
// prints the echo and closes.
func Example() {
	l, err := eddy.NewLoop(nil)
	if err != nil {
		panic(err)
	}
	defer l.Close()

	// The server: every request is a handshake (or gets 426).
	srv := &evhttp.Server{Handler: evws.NewUpgrader(nil, evws.Handler{
		OnMessage: func(c *evws.Conn, op evws.Opcode, p []byte) {
			c.WriteMessage(op, p)
		},
	})}
	ln, err := srv.Serve(l, "tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}

	// The client.
	cl := evclient.New(l, nil)
	evws.Dial(cl, "ws://"+ln.Addr().String()+"/echo", nil, evws.Handler{
		OnOpen: func(c *evws.Conn) {
			c.WriteMessage(evws.Text, []byte("hello"))
		},
		OnMessage: func(c *evws.Conn, op evws.Opcode, p []byte) {
			fmt.Printf("%v %s\n", op, p)
			c.Close(evws.CloseNormal, "done")
		},
		OnClose: func(c *evws.Conn, err error) {
			fmt.Println(err)
			l.Break(eddy.BreakAll)
		},
	})
	l.Run()
	// Output:
	// text hello
	// evws: closed by local: 1000 done
}

// A native evhttp handler that routes: WebSocket on /ws, a page elsewhere.
func ExampleUpgrader_Upgrade() {
	u := evws.NewUpgrader(&evws.Config{Subprotocols: []string{"chat"}, Deflate: true}, evws.Handler{
		OnOpen: func(c *evws.Conn) { c.WriteMessage(evws.Text, []byte("welcome")) },
	})
	_ = evhttp.HandlerFunc(func(w *evhttp.ResponseWriter, r *evhttp.Request) {
		if string(r.Path()) == "/ws" {
			u.Upgrade(w, r) // answers the handshake, or the error status
			return
		}
		w.WriteString("a page")
	})
}

// A standard http.Handler served by evhttp.Adapt upgrades its WebSocket
// connections, which go on on their loop, over TLS too.
func ExampleUpgrader_UpgradeHTTP() {
	u := evws.NewUpgrader(nil, evws.Handler{
		OnMessage: func(c *evws.Conn, op evws.Opcode, p []byte) { c.WriteMessage(op, p) },
	})
	mux := http.NewServeMux()
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		u.UpgradeHTTP(w, r) // the connection is a *evws.Conn on its loop from now on
	})
	_ = &evhttp.Server{Handler: evhttp.Adapt(mux, nil)}
}

// Broadcast: a message framed once and sent to every subscriber, with no
// copy per connection.
func ExampleNewPrepared() {
	l, err := eddy.NewLoop(nil)
	if err != nil {
		panic(err)
	}
	defer l.Close()

	subs := map[*evws.Conn]bool{}
	srv := &evhttp.Server{Handler: evws.NewUpgrader(&evws.Config{Deflate: true}, evws.Handler{
		OnOpen:  func(c *evws.Conn) { subs[c] = true },
		OnClose: func(c *evws.Conn, err error) { delete(subs, c) },
		OnMessage: func(c *evws.Conn, op evws.Opcode, p []byte) {
			m, _ := evws.NewPrepared(op, p, true) // framed and compressed once
			for s := range subs {
				s.WritePrepared(m)
			}
		},
	})}
	ln, err := srv.Serve(l, "tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}

	cl := evclient.New(l, nil)
	url := "ws://" + ln.Addr().String() + "/"
	open, got := 0, 0
	var conns []*evws.Conn
	for range 3 {
		evws.Dial(cl, url, nil, evws.Handler{
			OnOpen: func(c *evws.Conn) {
				conns = append(conns, c)
				if open++; open == 3 {
					// Subscribed once the server's OnOpen ran: a
					// round trip later. Ping and wait for the Pong.
					c.WriteControl(evws.Ping, nil)
				}
			},
			OnPong: func(c *evws.Conn, p []byte) {
				c.WriteMessage(evws.Text, []byte("news for all"))
			},
			OnMessage: func(c *evws.Conn, op evws.Opcode, p []byte) {
				fmt.Printf("%s\n", p)
				if got++; got == 3 {
					for _, c := range conns {
						c.Close(evws.CloseNormal, "")
					}
				}
			},
			OnClose: func(c *evws.Conn, err error) {
				if open--; open == 0 {
					l.Break(eddy.BreakAll)
				}
			},
		})
	}
	l.Run()
	// Output:
	// news for all
	// news for all
	// news for all
}

// A room: every message from a member goes to every member through a Hub,
// framed and compressed once.
func ExampleHub() {
	l, err := eddy.NewLoop(nil)
	if err != nil {
		panic(err)
	}
	defer l.Close()

	room := evws.NewHub(l, nil)
	srv := &evhttp.Server{Handler: evws.NewUpgrader(&evws.Config{Deflate: true}, evws.Handler{
		OnOpen:  room.Add,
		OnClose: func(c *evws.Conn, err error) { room.Remove(c) },
		OnMessage: func(c *evws.Conn, op evws.Opcode, p []byte) {
			m, _ := evws.NewPrepared(op, p, true) // framed and compressed once
			room.Broadcast(m)
		},
	})}
	ln, err := srv.Serve(l, "tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}

	cl := evclient.New(l, nil)
	url := "ws://" + ln.Addr().String() + "/"
	open, got := 0, 0
	var conns []*evws.Conn
	for range 3 {
		evws.Dial(cl, url, nil, evws.Handler{
			OnOpen: func(c *evws.Conn) {
				conns = append(conns, c)
				if open++; open == 3 {
					// Subscribed once the server's OnOpen ran: a
					// round trip later. Ping and wait for the Pong.
					c.WriteControl(evws.Ping, nil)
				}
			},
			OnPong: func(c *evws.Conn, p []byte) {
				c.WriteMessage(evws.Text, []byte("news for all"))
			},
			OnMessage: func(c *evws.Conn, op evws.Opcode, p []byte) {
				fmt.Printf("%s\n", p)
				if got++; got == 3 {
					for _, c := range conns {
						c.Close(evws.CloseNormal, "")
					}
				}
			},
			OnClose: func(c *evws.Conn, err error) {
				if open--; open == 0 {
					l.Break(eddy.BreakAll)
				}
			},
		})
	}
	l.Run()
	// Output:
	// news for all
	// news for all
	// news for all
}
