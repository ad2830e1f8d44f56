// Command evio is a server on github.com/tidwall/evio with one loop. In echo
// mode the Data callback returns its input as output; in http mode it frames
// the requests with internal/hello, keeping a partial one in the
// connection's evio.InputStream, and returns one response per request.
//
//	evio -addr 127.0.0.1:7000 [-mode echo|http]
package main

import (
	"flag"
	"log"

	"github.com/eddyloop/eddy/bench/internal/hello"
	"github.com/tidwall/evio"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:7000", "listen address")
	mode := flag.String("mode", "echo", "echo | http")
	flag.Parse()
	var ev evio.Events
	ev.NumLoops = 1
	ev.Opened = func(c evio.Conn) (out []byte, opts evio.Options, action evio.Action) {
		opts.ReuseInputBuffer = true
		if *mode == "http" {
			c.SetContext(new(evio.InputStream))
		}
		return
	}
	switch *mode {
	case "echo":
		ev.Data = func(_ evio.Conn, in []byte) ([]byte, evio.Action) { return in, evio.None }
	case "http":
		var out []byte // evio copies what Data returns, so one buffer serves the loop
		ev.Data = func(c evio.Conn, in []byte) ([]byte, evio.Action) {
			is := c.Context().(*evio.InputStream)
			data := is.Begin(in)
			n, used, bad := hello.Scan(data)
			if bad {
				return nil, evio.Close
			}
			is.End(data[used:])
			if n == 0 {
				return nil, evio.None
			}
			out = hello.Append(out[:0], n)
			return out, evio.None
		}
	default:
		log.Fatalf("unknown -mode %q", *mode)
	}
	log.Fatal(evio.Serve(ev, "tcp://"+*addr))
}
