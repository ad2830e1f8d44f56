// Command stdlib is a TCP echo server on the standard library: net.Listen
// and one goroutine per connection copying input to output with a reused
// per-connection buffer.
//
//	stdlib -addr 127.0.0.1:7000
package main

import (
	"flag"
	"io"
	"log"
	"net"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:7000", "listen address")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
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
