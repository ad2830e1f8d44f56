// Command stdlib is a server on the standard library. In echo mode it is
// net.Listen and one goroutine per connection copying input to output with
// a reused per-connection buffer; in http mode it is net/http's http.Server
// with a handler (a goroutine per connection too).
//
//	stdlib -addr 127.0.0.1:7000 [-mode echo|http]
package main

import (
	"flag"
	"io"
	"log"
	"net"
	"net/http"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:7000", "listen address")
	mode := flag.String("mode", "echo", "echo | http")
	flag.Parse()
	switch *mode {
	case "echo":
		echo(*addr)
	case "http":
		log.Fatal((&http.Server{Addr: *addr, Handler: hello()}).ListenAndServe())
	default:
		log.Fatalf("unknown -mode %q", *mode)
	}
}

func echo(addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			log.Print(err)
			continue
		}
		go func() {
			defer c.Close()
			// io.CopyBuffer with a plain writer (not *net.TCPConn's ReaderFrom
			// path, which would splice) so the buffer is reused for every read.
			io.CopyBuffer(struct{ io.Writer }{c}, struct{ io.Reader }{c}, make([]byte, 16<<10))
		}()
	}
}

// hello answers every request with the 13-byte body. The header values are
// set as prepared slices, so that nothing is allocated or sniffed.
func hello() http.Handler {
	body := []byte("Hello, World!")
	server, ctype, clen := []string{"bench"}, []string{"text/plain"}, []string{"13"}
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h["Server"], h["Content-Type"], h["Content-Length"] = server, ctype, clen
		w.Write(body)
	})
}
