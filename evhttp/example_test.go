package evhttp_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"strings"
	"time"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evhttp"
	"github.com/eddyloop/eddy/evnet"
)

// exampleGet makes one request with a client of its own and prints the
// status and the body.
func exampleGet(method, url, body string) {
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		log.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Printf("%s %s\n", resp.Status, b)
}

// A server on one loop, with a synchronous handler: what it writes before
// returning is the response, sent with a Content-Length.
func Example() {
	loop, err := eddy.NewLoop(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer loop.Close()
	srv := &evhttp.Server{Handler: evhttp.HandlerFunc(func(w *evhttp.ResponseWriter, r *evhttp.Request) {
		w.Header().Set("Content-Type", "text/plain")
		switch string(r.Path()) { // no allocation: the compiler compares in place
		case "/":
			w.WriteString("Hello, World!")
		default:
			w.WriteHeader(404)
			w.WriteString("nothing here")
		}
	})}
	ln, err := srv.Serve(loop, "tcp", "127.0.0.1:0") // before Run, or on the loop
	if err != nil {
		log.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- loop.Run() }() // Run returns once the server is shut down

	exampleGet("GET", "http://"+ln.Addr().String()+"/", "")
	exampleGet("GET", "http://"+ln.Addr().String()+"/elsewhere", "")

	srv.Shutdown(context.Background())
	<-done
	// Output:
	// 200 OK Hello, World!
	// 404 Not Found nothing here
}

// An asynchronous handler ends its response later, here from a timer,
// and stops the timer in OnDone should the client leave first.
func ExampleResponseWriter_Async() {
	loop, _ := eddy.NewLoop(nil)
	defer loop.Close()
	srv := &evhttp.Server{Handler: evhttp.HandlerFunc(func(w *evhttp.ResponseWriter, r *evhttp.Request) {
		w.Async()
		t := eddy.NewTimer(func(*eddy.Timer) {
			w.WriteString("later")
			w.End()
		}, 10*time.Millisecond, 0)
		t.Start(r.Loop())
		w.OnDone(func(w *evhttp.ResponseWriter, err error) { t.Stop() })
	})}
	ln, _ := srv.Serve(loop, "tcp", "127.0.0.1:0")
	done := make(chan error)
	go func() { done <- loop.Run() }()

	exampleGet("GET", "http://"+ln.Addr().String()+"/", "")

	srv.Shutdown(context.Background())
	<-done
	// Output:
	// 200 OK later
}

// A handler that reads the body as it arrives and writes it back: the
// response is chunked, and when the client reads slower than it sends,
// the handler pauses the body until the output has drained.
func ExampleRequest_OnBody() {
	loop, _ := eddy.NewLoop(nil)
	defer loop.Close()
	srv := &evhttp.Server{Handler: evhttp.HandlerFunc(func(w *evhttp.ResponseWriter, r *evhttp.Request) {
		w.OnDrain(func(w *evhttp.ResponseWriter) { w.Request().ResumeBody() })
		r.OnBody(func(w *evhttp.ResponseWriter, r *evhttp.Request, p []byte, err error) {
			w.Write(p)
			switch {
			case err == io.EOF:
				w.End()
			case err != nil:
				// The body failed (too large, cut): the server answers.
			case w.Full():
				r.PauseBody()
			}
		})
	})}
	ln, _ := srv.Serve(loop, "tcp", "127.0.0.1:0")
	done := make(chan error)
	go func() { done <- loop.Run() }()

	exampleGet("POST", "http://"+ln.Addr().String()+"/", "echo me")

	srv.Shutdown(context.Background())
	<-done
	// Output:
	// 200 OK echo me
}

// ReadAll gathers a body; a body that came whole with its head is not
// even copied.
func ExampleRequest_ReadAll() {
	loop, _ := eddy.NewLoop(nil)
	defer loop.Close()
	srv := &evhttp.Server{Handler: evhttp.HandlerFunc(func(w *evhttp.ResponseWriter, r *evhttp.Request) {
		r.ReadAll(func(w *evhttp.ResponseWriter, r *evhttp.Request, body []byte, err error) {
			if err != nil {
				return // the server has answered 413 or 400
			}
			fmt.Fprintf(w, "%d bytes: %s", len(body), strings.ToUpper(string(body)))
			w.End()
		})
	})}
	ln, _ := srv.Serve(loop, "tcp", "127.0.0.1:0")
	done := make(chan error)
	go func() { done <- loop.Run() }()

	exampleGet("POST", "http://"+ln.Addr().String()+"/", "shout")

	srv.Shutdown(context.Background())
	<-done
	// Output:
	// 200 OK 5 bytes: SHOUT
}

// A large response streamed at the client's pace: write until Full, go on
// in OnDrain. The server never holds more than the connection's high
// watermark of it.
func ExampleResponseWriter_OnDrain() {
	loop, _ := eddy.NewLoop(nil)
	defer loop.Close()
	chunk := []byte(strings.Repeat("x", 64<<10))
	srv := &evhttp.Server{Handler: evhttp.HandlerFunc(func(w *evhttp.ResponseWriter, r *evhttp.Request) {
		const total = 16 << 20
		sent := 0
		more := func(w *evhttp.ResponseWriter) {
			for sent < total && !w.Full() {
				w.Write(chunk)
				sent += len(chunk)
			}
			if sent == total {
				w.End()
			}
		}
		w.SetContentLength(total)
		w.OnDrain(more)
		w.Async()
		more(w)
	})}
	ln, _ := srv.Serve(loop, "tcp", "127.0.0.1:0")
	done := make(chan error)
	go func() { done <- loop.Run() }()

	tr := &http.Transport{}
	resp, err := (&http.Client{Transport: tr}).Get("http://" + ln.Addr().String() + "/")
	if err != nil {
		log.Fatal(err)
	}
	n, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	tr.CloseIdleConnections()
	fmt.Println(resp.Status, n, "bytes")

	srv.Shutdown(context.Background())
	<-done
	// Output:
	// 200 OK 16777216 bytes
}

// One server on every loop of a group: each loop accepts on its own
// SO_REUSEPORT listener and serves its connections alone.
func ExampleServer_ServeGroup() {
	g, err := evnet.NewGroup(&evnet.GroupConfig{Loops: 2})
	if err != nil {
		log.Fatal(err)
	}
	srv := &evhttp.Server{Handler: evhttp.HandlerFunc(func(w *evhttp.ResponseWriter, r *evhttp.Request) {
		w.WriteString("Hello from a loop")
	})}
	ln, err := srv.ServeGroup(g, "tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}

	exampleGet("GET", "http://"+ln.Addr().String()+"/", "")

	// The server first (it drains the requests), then the loops.
	srv.Shutdown(context.Background())
	g.Shutdown(time.Second)
	// Output:
	// 200 OK Hello from a loop
}

// A handler that has its fields as bytes (here, the request's own, as a
// proxy has an upstream's head) adds them with AddBytes, which copies them
// into storage the Header keeps: no allocation once it has grown. And
// MethodString gives the method as a string without allocating for the
// common methods.
func ExampleHeader_AddBytes() {
	loop, err := eddy.NewLoop(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer loop.Close()
	srv := &evhttp.Server{Handler: evhttp.HandlerFunc(func(w *evhttp.ResponseWriter, r *evhttp.Request) {
		for name, value := range r.Headers() {
			if len(name) > 5 && string(name[:5]) == "X-Do-" {
				w.Header().AddBytes(name[5:], value) // "X-Do-Echo: x" answers "Echo: x"
			}
		}
		w.WriteString(r.MethodString() + " " + w.Header().Get("Echo"))
	})}
	ln, err := srv.Serve(loop, "tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- loop.Run() }()

	req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+"/", nil)
	req.Header.Set("X-Do-Echo", "from the request")
	tr := &http.Transport{}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		log.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	tr.CloseIdleConnections()
	fmt.Printf("%s; Echo: %s\n", b, resp.Header.Get("Echo"))

	srv.Shutdown(context.Background())
	<-done
	// Output:
	// GET from the request; Echo: from the request
}
