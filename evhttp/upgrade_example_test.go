package evhttp_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evhttp"
	"github.com/eddyloop/eddy/evnet"
)

// echoProto is the state of one connection speaking the echo protocol;
// its methods are the connection's callbacks.
type echoProto struct{ echoed int }

func (e *echoProto) onData(c *evnet.Conn, p []byte) int {
	e.echoed += len(p)
	c.Write(p)
	return len(p)
}

// A handler that switches to the "echo" protocol when the client offers
// it, and answers 426 Upgrade Required otherwise. After the 101, the
// connection is the protocol's: its callbacks get what the client sends,
// and the server no longer counts it.
func ExampleResponseWriter_Upgrade() {
	loop, err := eddy.NewLoop(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer loop.Close()
	srv := &evhttp.Server{Handler: evhttp.HandlerFunc(func(w *evhttp.ResponseWriter, r *evhttp.Request) {
		e := &echoProto{}
		if err := w.Upgrade("echo", evnet.Handler{OnData: e.onData}); err != nil {
			w.Header().Set("Upgrade", "echo")
			w.WriteHeader(426)
			w.WriteString(err.Error())
		}
	})}
	ln, err := srv.Serve(loop, "tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- loop.Run() }()
	url := "http://" + ln.Addr().String() + "/"

	exampleGet("GET", url, "")

	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "echo")
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.Status, resp.Header.Get("Upgrade"))
	conn := resp.Body.(io.ReadWriteCloser) // a 101's body is the connection
	io.WriteString(conn, "hello")
	b := make([]byte, 5)
	io.ReadFull(conn, b)
	fmt.Printf("%s\n", b)
	conn.Close() // the server closes its side on the EOF (OnEOF is nil)

	srv.Shutdown(context.Background()) // does not wait for the upgraded connection,
	<-done                             // which keeps the loop running until it closes
	// Output:
	// 426 Upgrade Required evhttp: not an upgrade request for that protocol
	// 101 Switching Protocols echo
	// hello
}
