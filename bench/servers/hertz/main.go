// Command hertz is an HTTP server on github.com/cloudwego/hertz over its
// default transport, cloudwego/netpoll (one poller), with one handler for
// every path and method. It offers only -mode http.
//
//	hertz -addr 127.0.0.1:7000 -mode http
package main

import (
	"context"
	"flag"
	"log"

	"github.com/cloudwego/hertz/pkg/app"
	"github.com/cloudwego/hertz/pkg/app/server"
	"github.com/cloudwego/hertz/pkg/common/hlog"
	"github.com/cloudwego/netpoll"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:7000", "listen address")
	mode := flag.String("mode", "http", "http (the only mode)")
	flag.Parse()
	if *mode != "http" {
		log.Fatalf("-mode %q: hertz serves only http", *mode)
	}
	if err := netpoll.SetNumLoops(1); err != nil {
		log.Fatal(err)
	}
	hlog.SetLevel(hlog.LevelWarn)
	h := server.New(server.WithHostPorts(*addr), server.WithDisablePrintRoute(true))
	body := []byte("Hello, World!")
	h.Any("/*path", func(_ context.Context, c *app.RequestContext) {
		c.Data(200, "text/plain", body)
	})
	// Run, not Spin: no signal handler of its own, so SIGTERM from the
	// driver ends it at once instead of after a graceful drain.
	log.Fatal(h.Run())
}
