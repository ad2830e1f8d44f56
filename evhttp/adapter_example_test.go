package evhttp_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"strings"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evhttp"
	"github.com/eddyloop/eddy/evnet"
)

// A handler written for net/http, served on a loop through the adapter:
// the loop reads and parses the requests, and each runs on a goroutine of
// the adapter's pool only while it is being answered.
func ExampleAdapt() {
	loop, err := eddy.NewLoop(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer loop.Close()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello/{name}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "Hello, %s! (%s %s)", r.PathValue("name"), r.Method, r.Proto)
	})
	srv := &evhttp.Server{Handler: evhttp.Adapt(mux, &evhttp.AdapterConfig{Workers: 64})}
	ln, err := srv.Serve(loop, "tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- loop.Run() }()

	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	for _, path := range []string{"/hello/gopher", "/elsewhere"} {
		resp, err := (&http.Client{Transport: tr}).Get("http://" + ln.Addr().String() + path)
		if err != nil {
			log.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("%s [%s] %s\n", resp.Status, resp.Header.Get("Content-Type"), strings.TrimSpace(string(body)))
	}

	srv.Shutdown(context.Background())
	<-done
	// Output:
	// 200 OK [text/plain; charset=utf-8] Hello, gopher! (GET HTTP/1.1)
	// 404 Not Found [text/plain; charset=utf-8] 404 page not found
}

// A standard http.Handler switches its connection, plain or TLS, to a
// protocol of its own handled on the loop: here an echo of what comes.
func ExampleUpgradeAdapted() {
	echo := evnet.Handler{OnData: func(c *evnet.Conn, p []byte) int {
		c.Write(p)
		return len(p)
	}}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Echo", "1")
		if err := evhttp.UpgradeAdapted(w, "echo", echo); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest) // not an upgrade to echo
		}
	})
	_ = &evhttp.Server{Handler: evhttp.Adapt(h, nil)}
}
