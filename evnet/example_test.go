package evnet_test

import (
	"fmt"
	"time"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evnet"
)

// An echo server and a client on one loop: the client dials, sends a
// line, half-closes, and prints what comes back; the server echoes with
// backpressure (PauseRead when Full, ResumeRead in OnDrain).
func Example() {
	l, err := eddy.NewLoop(nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()

	var ln *evnet.Listener
	var serverReason error
	server := evnet.Handler{
		OnData: func(c *evnet.Conn, p []byte) int {
			c.Write(p)
			if c.Full() {
				c.PauseRead()
			}
			return len(p)
		},
		OnDrain: func(c *evnet.Conn) { c.ResumeRead() },
		OnClose: func(c *evnet.Conn, reason error) {
			serverReason = reason
			ln.Close() // one connection is enough: Run returns when all is closed
		},
	}
	ln, err = evnet.Listen(l, "tcp", "127.0.0.1:0", server)
	if err != nil {
		fmt.Println(err)
		return
	}

	client := evnet.Handler{
		OnOpen: func(c *evnet.Conn) {
			c.Write([]byte("hello, eddy\n"))
			c.CloseWrite() // the server sees EOF after the line
		},
		OnData: func(c *evnet.Conn, p []byte) int {
			fmt.Printf("client: %q\n", p)
			return len(p)
		},
		OnClose: func(c *evnet.Conn, reason error) { fmt.Println("client:", reason) },
	}
	if _, err := evnet.Dial(l, "tcp", ln.Addr().String(), time.Second, client); err != nil {
		fmt.Println(err)
		return
	}
	if err := l.Run(); err != nil {
		fmt.Println(err)
	}
	fmt.Println("server:", serverReason)
	// Output:
	// client: "hello, eddy\n"
	// client: evnet: connection closed by peer
	// server: evnet: connection closed by peer
}

// OnData returns how much it consumed; the rest is kept by the connection
// and given again with the next bytes. Here a line protocol consumes whole
// lines only, so a line split across reads arrives whole.
func ExampleHandler_lines() {
	l, _ := eddy.NewLoop(nil)
	defer l.Close()
	r, w := pipe()
	h := evnet.Handler{
		OnData: func(c *evnet.Conn, p []byte) int {
			n := 0
			for i, b := range p {
				if b == '\n' {
					fmt.Printf("line %q\n", p[n:i])
					n = i + 1
				}
			}
			return n // an incomplete line stays
		},
		OnClose: func(c *evnet.Conn, reason error) { fmt.Println("closed:", reason) },
	}
	if _, err := evnet.Adopt(l, r, h, nil); err != nil {
		fmt.Println(err)
		return
	}
	writer, _ := evnet.Adopt(l, w, evnet.Handler{}, nil)
	writer.Write([]byte("first li"))
	l.RunNoWait()
	writer.Write([]byte("ne\nsecond line\n"))
	writer.Close()
	l.Run()
	// Output:
	// line "first line"
	// line "second line"
	// closed: evnet: connection closed by peer
}
