// Command gnet is a server on github.com/panjf2000/gnet/v2 with a single
// event loop. In echo mode every byte read is written back; in http mode
// the requests buffered on a connection are framed with internal/hello and
// answered with one write.
//
//	gnet -addr 127.0.0.1:7000 [-mode echo|http]
package main

import (
	"flag"
	"log"

	"github.com/eddyloop/eddy/bench/internal/hello"
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

type httpServer struct {
	gnet.BuiltinEventEngine
	out []byte // reused for every batch of responses (one loop)
}

// OnTraffic answers every complete request buffered on c; a partial one
// stays buffered until more arrives.
func (s *httpServer) OnTraffic(c gnet.Conn) gnet.Action {
	buf, _ := c.Peek(-1)
	n, used, bad := hello.Scan(buf)
	if bad {
		return gnet.Close
	}
	if n == 0 {
		return gnet.None
	}
	c.Discard(used)
	s.out = hello.Append(s.out[:0], n)
	if _, err := c.Write(s.out); err != nil {
		return gnet.Close
	}
	return gnet.None
}

func main() {
	addr := flag.String("addr", "127.0.0.1:7000", "listen address")
	mode := flag.String("mode", "echo", "echo | http")
	flag.Parse()
	var h gnet.EventHandler
	switch *mode {
	case "echo":
		h = &echo{}
	case "http":
		h = &httpServer{}
	default:
		log.Fatalf("unknown -mode %q", *mode)
	}
	log.Fatal(gnet.Run(h, "tcp://"+*addr, gnet.WithMulticore(false), gnet.WithNumEventLoop(1)))
}
