// Command gnet is a TCP echo server on github.com/panjf2000/gnet/v2 with a
// single event loop: every byte read is written back.
//
//	gnet -addr 127.0.0.1:7000
package main

import (
	"flag"
	"log"

	"github.com/panjf2000/gnet/v2"
)

type echo struct{ gnet.BuiltinEventEngine }

// OnTraffic writes back everything buffered on c.
func (*echo) OnTraffic(c gnet.Conn) gnet.Action {
	buf, _ := c.Next(-1)
	if _, err := c.Write(buf); err != nil {
		return gnet.Close
	}
	return gnet.None
}

func main() {
	addr := flag.String("addr", "127.0.0.1:7000", "listen address")
	flag.Parse()
	log.Fatal(gnet.Run(&echo{}, "tcp://"+*addr, gnet.WithMulticore(false), gnet.WithNumEventLoop(1)))
}
