package evclient_test

import (
	"fmt"
	"io"
	"log"
	"strings"
	"time"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evdns"
	"github.com/eddyloop/eddy/evhttp"
	"github.com/eddyloop/eddy/evhttp/evclient"
	"github.com/eddyloop/eddy/evnet"
)

// exampleServe serves h with an evhttp server on l, on a loopback port,
// and returns its base URL and a function that stops listening (the
// server's connections close when their clients close them).
func exampleServe(l *eddy.Loop, h evhttp.HandlerFunc) (url string, stop func()) {
	srv := &evhttp.Server{Handler: h}
	ln, err := srv.Serve(l, "tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	return "http://" + ln.Addr().String(), func() { ln.Close() }
}

// A Client on a loop, with a server on the same loop: three GETs in a
// row, each started from the callback of the one before, on one
// keep-alive connection.
func ExampleClient() {
	l, err := eddy.NewLoop(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	base, stop := exampleServe(l, func(w *evhttp.ResponseWriter, r *evhttp.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "Hello, %s!", r.Path()[1:])
	})
	c := evclient.New(l, &evclient.Config{Timeout: 10 * time.Second})

	names := []string{"eddy", "loop", "world"}
	var get func(i int)
	get = func(i int) {
		c.Get(base+"/"+names[i], func(resp *evclient.Response, err error) {
			if err != nil {
				fmt.Println(err)
			} else {
				fmt.Println(resp.Status, resp.Header("Content-Type"), string(resp.Body))
			}
			if err == nil && i+1 < len(names) {
				get(i + 1)
				return
			}
			fmt.Println("connections dialled:", c.Stats().Dials)
			c.Close() // the pooled connection would keep Run going
			stop()
		})
	}
	get(0)
	if err := l.Run(); err != nil {
		log.Fatal(err)
	}
	// Output:
	// 200 text/plain Hello, eddy!
	// 200 text/plain Hello, loop!
	// 200 text/plain Hello, world!
	// connections dialled: 1
}

// Stream uploads a body in pieces (chunked) as fast as the connection
// takes them, and no faster: OnWrite writes until Full, and runs again
// when the connection's output queue has drained. The server reads the
// body as it arrives, and the answer is received as it arrives.
func ExampleClient_Stream() {
	l, err := eddy.NewLoop(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	base, stop := exampleServe(l, func(w *evhttp.ResponseWriter, r *evhttp.Request) {
		n := 0
		r.OnBody(func(w *evhttp.ResponseWriter, r *evhttp.Request, p []byte, err error) {
			n += len(p)
			if err == io.EOF {
				fmt.Fprintf(w, "got %d bytes", n)
				w.End()
			}
		})
	})
	c := evclient.New(l, nil)

	piece := []byte(strings.Repeat("x", 1000))
	left := 5000 // pieces to send: 5 MB
	var answer strings.Builder
	c.Stream(&evclient.Request{Method: "POST", URL: base + "/upload", StreamBody: true}, evclient.Handler{
		OnWrite: func(call *evclient.Call) {
			for left > 0 && !call.Full() {
				call.Write(piece)
				left--
			}
			if left == 0 {
				call.CloseBody()
			}
		},
		OnResponse: func(_ *evclient.Call, resp *evclient.Response) { fmt.Println("status", resp.Status) },
		OnBody:     func(_ *evclient.Call, p []byte) { answer.Write(p) }, // p is only valid during the call
		OnDone: func(_ *evclient.Call, err error) {
			fmt.Println(answer.String(), err)
			c.Close()
			stop()
		},
	})
	if err := l.Run(); err != nil {
		log.Fatal(err)
	}
	// Output:
	// status 200
	// got 5000000 bytes <nil>
}

// An upgrade: the request offers the "echo" protocol, the server switches
// to it (evhttp's ResponseWriter.Upgrade), and OnUpgrade gets the
// connection, which leaves the client, and gives it to the new protocol's
// callbacks.
func ExampleHandler_upgrade() {
	l, err := eddy.NewLoop(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	base, stop := exampleServe(l, func(w *evhttp.ResponseWriter, r *evhttp.Request) {
		echo := evnet.Handler{OnData: func(c *evnet.Conn, p []byte) int { c.Write(p); return len(p) }}
		if err := w.Upgrade("echo", echo); err != nil {
			w.WriteHeader(426)
		}
	})
	c := evclient.New(l, nil)

	req := &evclient.Request{URL: base + "/", Header: map[string][]string{
		"Connection": {"Upgrade"},
		"Upgrade":    {"echo"},
	}}
	c.Stream(req, evclient.Handler{
		OnUpgrade: func(_ *evclient.Call, resp *evclient.Response, nc *evnet.Conn) {
			fmt.Println(resp.StatusLine(), "to", resp.Header("Upgrade"))
			fmt.Println("client connections:", c.Stats().Open)
			var got []byte
			nc.SetHandler(evnet.Handler{OnData: func(nc *evnet.Conn, p []byte) int {
				got = append(got, p...)
				if len(got) == len("hello, echo") {
					fmt.Printf("echoed: %s\n", got)
					nc.Close()
				}
				return len(p)
			}})
			nc.Write([]byte("hello, echo")) // the new protocol speaks
		},
		OnDone: func(_ *evclient.Call, err error) {
			fmt.Println("call done:", err)
			c.Close() // leaves the upgraded connection alone
			stop()
		},
	})
	if err := l.Run(); err != nil {
		log.Fatal(err)
	}
	// Output:
	// HTTP/1.1 101 Switching Protocols to echo
	// client connections: 0
	// call done: <nil>
	// echoed: hello, echo
}

// Host names are resolved by a DialFunc; evdns.Dial resolves on the
// loop and connects with Happy Eyeballs. Here the name comes from a hosts
// table, so that no DNS server is asked.
func ExampleDialFunc() {
	l, err := eddy.NewLoop(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	base, stop := exampleServe(l, func(w *evhttp.ResponseWriter, r *evhttp.Request) {
		fmt.Fprintf(w, "Host: %s", r.Host())
	})
	port := base[strings.LastIndexByte(base, ':')+1:]

	hosts, _ := evdns.ParseHosts([]byte("127.0.0.1 app.internal\n"))
	r := evdns.NewResolver(l, evdns.DefaultConfig(), hosts, nil) // or evdns.SystemConfig()
	defer r.Close()
	c := evclient.New(l, &evclient.Config{
		Dial: func(hostport string, timeout time.Duration, h evnet.Handler, done func(*evnet.Conn, error)) func() bool {
			return evdns.Dial(r, "tcp", hostport, timeout, h, done).Cancel
		},
	})
	c.Get("http://app.internal:"+port+"/", func(resp *evclient.Response, err error) {
		if err != nil {
			fmt.Println(err)
		} else {
			fmt.Println(strings.Replace(string(resp.Body), port, "PORT", 1))
		}
		c.Close()
		stop()
	})
	if err := l.Run(); err != nil {
		log.Fatal(err)
	}
	// Output: Host: app.internal:PORT
}

// StreamCall with a RawHeader and a Target: requests built from bytes, as
// a proxy forwards them, on one Call reused from each request to the next.
// Once the buffers have grown, a request costs no allocation.
func ExampleClient_StreamCall() {
	l, err := eddy.NewLoop(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	base, stop := exampleServe(l, func(w *evhttp.ResponseWriter, r *evhttp.Request) {
		fmt.Fprintf(w, "%s %s for %s", r.Method(), r.Target(), r.Header("X-Forwarded-For"))
	})
	c := evclient.New(l, nil)

	var call evclient.Call    // the storage of every request below
	var header, target []byte // kept from one request to the next
	paths := []string{"/a", "/b?x=1"}
	var h evclient.Handler
	send := func(i int) {
		header = append(header[:0], "X-Forwarded-For: 192.0.2.1\r\n"...)
		target = append(target[:0], paths[i]...)
		c.StreamCall(&call, &evclient.Request{URL: base, RawHeader: header, Target: target}, h)
	}
	i := 0
	h = evclient.Handler{
		OnResponse: func(_ *evclient.Call, resp *evclient.Response) { fmt.Print(resp.Status, " ") },
		OnBody:     func(_ *evclient.Call, p []byte) { fmt.Print(string(p)) },
		OnDone: func(_ *evclient.Call, err error) {
			fmt.Println()
			if i++; err == nil && i < len(paths) {
				send(i) // the Call's request is over: it takes the next
				return
			}
			c.Close()
			stop()
		},
	}
	send(0)
	if err := l.Run(); err != nil {
		log.Fatal(err)
	}
	// Output:
	// 200 GET /a for 192.0.2.1
	// 200 GET /b?x=1 for 192.0.2.1
}
