// Command nbio is a server on github.com/lesismal/nbio with a single
// poller. In echo mode every byte read is written back from the OnData
// callback; in http mode it is nbio's HTTP layer, nbhttp, with its own
// parser and an http.Handler (run on nbhttp's task pool, its default).
//
//	nbio -addr 127.0.0.1:7000 [-mode echo|http]
package main

import (
	"flag"
	"log"
	"net/http"

	"github.com/lesismal/nbio"
	"github.com/lesismal/nbio/logging"
	"github.com/lesismal/nbio/nbhttp"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:7000", "listen address")
	mode := flag.String("mode", "echo", "echo | http")
	flag.Parse()
	logging.SetLevel(logging.LevelError)
	switch *mode {
	case "echo":
		e := nbio.NewEngine(nbio.Config{Network: "tcp", Addrs: []string{*addr}, NPoller: 1})
		e.OnData(func(c *nbio.Conn, data []byte) { c.Write(data) })
		if err := e.Start(); err != nil {
			log.Fatal(err)
		}
	case "http":
		e := nbhttp.NewEngine(nbhttp.Config{Network: "tcp", Addrs: []string{*addr}, NPoller: 1, Handler: hello()})
		if err := e.Start(); err != nil {
			log.Fatal(err)
		}
	default:
		log.Fatalf("unknown -mode %q", *mode)
	}
	select {}
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
