// Command nbio is a TCP echo server on github.com/lesismal/nbio with a single
// poller: every byte read is written back from the OnData callback.
//
//	nbio -addr 127.0.0.1:7000
package main

import (
	"flag"
	"log"

	"github.com/lesismal/nbio"
	"github.com/lesismal/nbio/logging"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:7000", "listen address")
	flag.Parse()
	logging.SetLevel(logging.LevelError)
	e := nbio.NewEngine(nbio.Config{Network: "tcp", Addrs: []string{*addr}, NPoller: 1})
	e.OnData(func(c *nbio.Conn, data []byte) { c.Write(data) })
	if err := e.Start(); err != nil {
		log.Fatal(err)
	}
	select {}
}
