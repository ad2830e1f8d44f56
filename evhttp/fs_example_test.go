package evhttp_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"path/filepath"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evhttp"
)

// exampleFetch makes one GET with a client of its own, with the header
// fields given as name, value pairs, and prints the status, the
// Content-Type and the body.
func exampleFetch(url string, header ...string) {
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest("GET", url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		log.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Printf("%s [%s] %q\n", resp.Status, resp.Header.Get("Content-Type"), b)
}

// A directory served by FileServer: its index for "/", a file by its
// extension's type, a range of it, and 404 for what is not there.
func ExampleFileServer() {
	dir, err := os.MkdirTemp("", "eddy-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.WriteFile(filepath.Join(dir, "index.html"), []byte("<h1>Hello</h1>"), 0o644)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("one two three"), 0o644)

	loop, err := eddy.NewLoop(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer loop.Close() // closes the files the loop keeps open
	srv := &evhttp.Server{Handler: evhttp.FileServer(dir, nil)}
	ln, err := srv.Serve(loop, "tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- loop.Run() }()

	base := "http://" + ln.Addr().String()
	exampleFetch(base + "/")
	exampleFetch(base + "/notes.txt")
	exampleFetch(base+"/notes.txt", "Range", "bytes=4-6")
	exampleFetch(base + "/missing.txt")

	srv.Shutdown(context.Background())
	<-done
	// Output:
	// 200 OK [text/html; charset=utf-8] "<h1>Hello</h1>"
	// 200 OK [text/plain; charset=utf-8] "one two three"
	// 206 Partial Content [text/plain; charset=utf-8] "two"
	// 404 Not Found [text/plain; charset=utf-8] "404 Not Found\n"
}

// A handler that sends part of a file it opened itself: the file is
// opened on the work pool (opening may block), and the region goes out
// with sendfile; the server closes the file once it is sent, since done
// is nil.
func ExampleResponseWriter_SendFile() {
	path := filepath.Join(os.TempDir(), "eddy-example-sendfile.txt")
	os.WriteFile(path, []byte("header|the part we want|trailer"), 0o644)
	defer os.Remove(path)

	loop, _ := eddy.NewLoop(nil)
	defer loop.Close()
	srv := &evhttp.Server{Handler: evhttp.HandlerFunc(func(w *evhttp.ResponseWriter, r *evhttp.Request) {
		w.Async()
		over := false // once the exchange is over, w is another request's
		w.OnDone(func(*evhttp.ResponseWriter, error) { over = true })
		var f *os.File
		var openErr error
		_, err := r.Loop().Queue(eddy.LaneFast, func() { f, openErr = os.Open(path) }, func(err error) {
			if err == nil {
				err = openErr
			}
			if over {
				if f != nil {
					f.Close()
				}
				return
			}
			if err != nil {
				w.WriteHeader(500)
				w.End()
				return
			}
			w.Header().Set("Content-Type", "text/plain")
			if err := w.SendFile(f, 7, 16, nil); err != nil {
				f.Close() // refused: still ours
			}
			w.End()
		})
		if err != nil {
			w.WriteHeader(503)
			w.End()
		}
	})}
	ln, _ := srv.Serve(loop, "tcp", "127.0.0.1:0")
	done := make(chan error)
	go func() { done <- loop.Run() }()

	exampleFetch("http://" + ln.Addr().String() + "/")

	srv.Shutdown(context.Background())
	<-done
	// Output:
	// 200 OK [text/plain] "the part we want"
}
