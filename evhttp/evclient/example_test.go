package evclient_test

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evdns"
	"github.com/eddyloop/eddy/evhttp/evclient"
	"github.com/eddyloop/eddy/evnet"
)

// A Client on a loop: three GETs in a row, each started from the callback
// of the one before, on one keep-alive connection.
func ExampleClient() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "Hello, %s!", r.URL.Query().Get("name"))
	}))
	defer srv.Close()

	l, err := eddy.NewLoop(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	c := evclient.New(l, &evclient.Config{Timeout: 10 * time.Second})

	names := []string{"eddy", "loop", "world"}
	var get func(i int)
	get = func(i int) {
		c.Get(srv.URL+"/?name="+names[i], func(resp *evclient.Response, err error) {
			if err != nil {
				fmt.Println(err)
				c.Close()
				return
			}
			fmt.Println(resp.Status, resp.Header("Content-Type"), string(resp.Body))
			if i+1 < len(names) {
				get(i + 1)
				return
			}
			fmt.Println("connections dialled:", c.Stats().Dials)
			c.Close() // the pooled connection would keep Run going
		})
	}
	get(0)
	if err := l.Run(); err != nil {
		log.Fatal(err)
	}
	// Output:
	// 200 text/plain; charset=utf-8 Hello, eddy!
	// 200 text/plain; charset=utf-8 Hello, loop!
	// 200 text/plain; charset=utf-8 Hello, world!
	// connections dialled: 1
}

// Stream uploads a body in pieces (chunked) as the connection takes them,
// and receives the answer as it arrives.
func ExampleClient_Stream() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "got %d bytes, %v", n, r.TransferEncoding)
	}))
	defer srv.Close()

	l, err := eddy.NewLoop(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	c := evclient.New(l, nil)

	piece := []byte(strings.Repeat("x", 1000))
	left := 5000 // pieces to send: 5 MB
	var answer strings.Builder
	c.Stream(&evclient.Request{Method: "POST", URL: srv.URL + "/upload", StreamBody: true}, evclient.Handler{
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
		},
	})
	if err := l.Run(); err != nil {
		log.Fatal(err)
	}
	// Output:
	// status 200
	// got 5000000 bytes, [chunked] <nil>
}

// Host names are resolved by a DialFunc; evdns.Dial resolves on the
// loop and connects with Happy Eyeballs. Here the name comes from a hosts
// table, so that no DNS server is asked.
func ExampleDialFunc() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "Host: %s", r.Host)
	}))
	defer srv.Close()
	port := srv.URL[strings.LastIndexByte(srv.URL, ':')+1:]

	l, err := eddy.NewLoop(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
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
	})
	if err := l.Run(); err != nil {
		log.Fatal(err)
	}
	// Output: Host: app.internal:PORT
}
