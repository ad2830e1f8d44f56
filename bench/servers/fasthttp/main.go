// Command fasthttp is an HTTP server on github.com/valyala/fasthttp: its
// Server with a request handler (connections served by its worker
// goroutine pool). It has no raw TCP layer, so it offers only -mode http.
//
//	fasthttp -addr 127.0.0.1:7000 -mode http
package main

import (
	"flag"
	"log"

	"github.com/valyala/fasthttp"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:7000", "listen address")
	mode := flag.String("mode", "http", "http (the only mode)")
	flag.Parse()
	if *mode != "http" {
		log.Fatalf("-mode %q: fasthttp serves only http", *mode)
	}
	body := []byte("Hello, World!")
	s := &fasthttp.Server{
		Name: "bench",
		Handler: func(ctx *fasthttp.RequestCtx) {
			ctx.SetContentType("text/plain")
			ctx.SetBody(body)
		},
	}
	log.Fatal(s.ListenAndServe(*addr))
}
