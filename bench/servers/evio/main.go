// Command evio is a TCP echo server on github.com/tidwall/evio with one loop:
// the Data callback returns its input as output.
//
//	evio -addr 127.0.0.1:7000
package main

import (
	"flag"
	"log"

	"github.com/tidwall/evio"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:7000", "listen address")
	flag.Parse()
	var ev evio.Events
	ev.NumLoops = 1
	ev.Opened = func(evio.Conn) (out []byte, opts evio.Options, action evio.Action) {
		opts.ReuseInputBuffer = true
		return
	}
	ev.Data = func(_ evio.Conn, in []byte) ([]byte, evio.Action) { return in, evio.None }
	log.Fatal(evio.Serve(ev, "tcp://"+*addr))
}
