package evnet_test

import (
	"bufio"
	"fmt"
	"net"
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

// Backpressure both ways, on loopback. The server produces 1 MiB: it
// writes while its queue is not Full and goes on in OnDrain, so the queue
// never holds more than HighWater and one write, however slow the reader.
// The client reads in batches of 256 KiB and pauses reading after each,
// for a while (SetTimer; OnTimer resumes): the kernel's buffers fill, and
// the server waits for OnDrain. Input past a batch is left unconsumed and
// given again by ResumeRead.
func ExampleConnConfig_backpressure() {
	l, err := eddy.NewLoop(nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()

	const total, batch = 1 << 20, 256 << 10
	cfg := evnet.ConnConfig{HighWater: 128 << 10, LowWater: 32 << 10}
	chunk := make([]byte, 16<<10) // Write copies what it queues: one buffer will do
	sent, peak, drains := 0, 0, 0
	produce := func(c *evnet.Conn) {
		for sent < total && !c.Full() {
			c.Write(chunk)
			sent += len(chunk)
			peak = max(peak, c.Buffered())
		}
		if sent == total {
			c.Close() // after the queue is flushed
		}
	}
	var ln *evnet.Listener
	var serverReason error
	ln, err = evnet.ListenConfig{Conn: cfg}.Listen(l, "tcp", "127.0.0.1:0", evnet.Handler{
		OnOpen: func(c *evnet.Conn) {
			// A small kernel buffer, or on loopback the kernel takes the
			// whole megabyte at once and the queue has nothing to do.
			c.SetWriteBuffer(16 << 10)
			produce(c)
		},
		OnData:  func(c *evnet.Conn, p []byte) int { return len(p) },
		OnDrain: func(c *evnet.Conn) { drains++; produce(c) },
		OnClose: func(c *evnet.Conn, reason error) { serverReason = reason; ln.Close() },
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	got := 0
	client := evnet.Handler{
		OnData: func(c *evnet.Conn, p []byte) int {
			n := min(len(p), batch-got%batch)
			got += n
			if got%batch == 0 && got < total {
				fmt.Printf("client: %d KiB read, pausing\n", got>>10)
				c.PauseRead()
				c.SetTimer(10 * time.Millisecond)
			}
			return n // the rest is kept for ResumeRead
		},
		OnTimer: func(c *evnet.Conn) { c.ResumeRead() },
		OnClose: func(c *evnet.Conn, reason error) { fmt.Printf("client: %d KiB read, %v\n", got>>10, reason) },
	}
	if _, err := evnet.Dial(l, "tcp", ln.Addr().String(), time.Second, client); err != nil {
		fmt.Println(err)
		return
	}
	if err := l.Run(); err != nil {
		fmt.Println(err)
	}
	fmt.Println("server:", serverReason)
	fmt.Println("server waited for OnDrain:", drains > 0)
	fmt.Println("server queue within HighWater and one write:", peak <= cfg.HighWater+len(chunk))
	// Output:
	// client: 256 KiB read, pausing
	// client: 512 KiB read, pausing
	// client: 768 KiB read, pausing
	// client: 1024 KiB read, evnet: connection closed by peer
	// server: evnet: closed locally
	// server waited for OnDrain: true
	// server queue within HighWater and one write: true
}

// Dial returns at once and connects in the background: OnOpen runs once
// connected, and what is written before that is queued and sent then. A
// dial that fails or times out runs OnClose without OnOpen.
func ExampleDial() {
	l, err := eddy.NewLoop(nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()

	// A server that answers one line and closes.
	var ln *evnet.Listener
	ln, err = evnet.Listen(l, "tcp", "127.0.0.1:0", evnet.Handler{
		OnData: func(c *evnet.Conn, p []byte) int {
			c.Write([]byte("pong\n"))
			c.Close()
			ln.Close()
			return len(p)
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	c, err := evnet.Dial(l, "tcp", ln.Addr().String(), 5*time.Second, evnet.Handler{
		OnOpen: func(c *evnet.Conn) { fmt.Println("connected:", c.RemoteAddr() == ln.Addr()) },
		OnData: func(c *evnet.Conn, p []byte) int {
			fmt.Printf("got %q\n", p)
			return len(p)
		},
		OnClose: func(c *evnet.Conn, reason error) { fmt.Println("closed:", reason) },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	c.Write([]byte("ping\n")) // queued until connected
	if err := l.Run(); err != nil {
		fmt.Println(err)
	}
	// Output:
	// connected: true
	// got "pong\n"
	// closed: evnet: connection closed by peer
}

// A Group serves on several loops, each on its own goroutine: with TCP,
// one SO_REUSEPORT listener per loop, so the kernel spreads the
// connections. Listen and Shutdown are called from an ordinary goroutine;
// the callbacks run on the loop that holds the connection.
func ExampleGroup() {
	g, err := evnet.NewGroup(&evnet.GroupConfig{Loops: 2})
	if err != nil {
		fmt.Println(err)
		return
	}
	echo := evnet.Handler{
		OnData: func(c *evnet.Conn, p []byte) int {
			c.Write(p)
			return len(p)
		},
	}
	ln, err := g.Listen("tcp", "127.0.0.1:0", evnet.ListenConfig{}, echo)
	if err != nil {
		fmt.Println(err)
		g.Shutdown(0)
		return
	}

	// A client from the standard library, on this goroutine.
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		fmt.Println(err)
	} else {
		nc.Write([]byte("hello, group\n"))
		line, err := bufio.NewReader(nc).ReadString('\n')
		fmt.Printf("%d loops, echo %q, %v\n", g.Len(), line, err)
		nc.Close()
	}

	// Shutdown closes the listeners, then the connections once their
	// output is sent (or resets them after the drain time), and the loops.
	fmt.Println("shutdown:", g.Shutdown(time.Second))
	// Output:
	// 2 loops, echo "hello, group\n", <nil>
	// shutdown: <nil>
}
