// Command netpoll is a TCP echo server on github.com/cloudwego/netpoll with
// one poller: OnRequest copies everything readable into the writer and
// flushes it.
//
//	netpoll -addr 127.0.0.1:7000
package main

import (
	"context"
	"flag"
	"log"

	"github.com/cloudwego/netpoll"
)

func echo(_ context.Context, conn netpoll.Connection) error {
	r, w := conn.Reader(), conn.Writer()
	n := r.Len()
	in, err := r.Next(n)
	if err != nil {
		return err
	}
	out, err := w.Malloc(n)
	if err != nil {
		return err
	}
	copy(out, in)
	if err := r.Release(); err != nil {
		return err
	}
	return w.Flush()
}

func main() {
	addr := flag.String("addr", "127.0.0.1:7000", "listen address")
	flag.Parse()
	if err := netpoll.SetNumLoops(1); err != nil {
		log.Fatal(err)
	}
	ln, err := netpoll.CreateListener("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	loop, err := netpoll.NewEventLoop(echo)
	if err != nil {
		log.Fatal(err)
	}
	log.Fatal(loop.Serve(ln))
}
