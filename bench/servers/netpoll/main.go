// Command netpoll is a server on github.com/cloudwego/netpoll with one
// poller; its OnRequest handlers run on netpoll's goroutine pool. In echo
// mode OnRequest copies everything readable into the writer and flushes it;
// in http mode it frames the requests with internal/hello and answers them
// with one flush.
//
//	netpoll -addr 127.0.0.1:7000 [-mode echo|http]
package main

import (
	"context"
	"flag"
	"log"

	"github.com/cloudwego/netpoll"

	"github.com/eddyloop/eddy/bench/internal/hello"
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

// serveHTTP answers every complete request that is readable. netpoll calls
// OnRequest again for as long as input is left unread, so a partial request
// is waited for here, blocking on the reader until more bytes arrive.
func serveHTTP(_ context.Context, conn netpoll.Connection) error {
	r, w := conn.Reader(), conn.Writer()
	for {
		avail := r.Len()
		buf, err := r.Peek(avail)
		if err != nil {
			return err
		}
		n, used, bad := hello.Scan(buf)
		if bad {
			return conn.Close()
		}
		if n > 0 {
			if err := r.Skip(used); err != nil {
				return err
			}
			if err := r.Release(); err != nil {
				return err
			}
			resp := hello.Response()
			out, err := w.Malloc(n * len(resp))
			if err != nil {
				return err
			}
			for i := range n {
				copy(out[i*len(resp):], resp)
			}
			if err := w.Flush(); err != nil {
				return err
			}
		}
		if r.Len() == 0 {
			return nil
		}
		// The start of a request is buffered: wait for one more byte.
		if _, err := r.Peek(r.Len() + 1); err != nil {
			return err
		}
	}
}

func main() {
	addr := flag.String("addr", "127.0.0.1:7000", "listen address")
	mode := flag.String("mode", "echo", "echo | http")
	flag.Parse()
	var h netpoll.OnRequest
	switch *mode {
	case "echo":
		h = echo
	case "http":
		h = serveHTTP
	default:
		log.Fatalf("unknown -mode %q", *mode)
	}
	if err := netpoll.SetNumLoops(1); err != nil {
		log.Fatal(err)
	}
	ln, err := netpoll.CreateListener("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	loop, err := netpoll.NewEventLoop(h)
	if err != nil {
		log.Fatal(err)
	}
	log.Fatal(loop.Serve(ln))
}
