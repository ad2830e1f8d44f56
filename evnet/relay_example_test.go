package evnet_test

import (
	"fmt"
	"io"
	"net"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evnet"
)

// ExampleDialRelay is a TCP proxy: every connection accepted is relayed to
// an upstream, here an echo server of the net package.
func ExampleDialRelay() {
	upstream, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer upstream.Close()
	go func() {
		c, err := upstream.Accept()
		if err != nil {
			return
		}
		io.Copy(c, c) // echo until the client's half-close
		c.Close()
	}()

	l, err := eddy.NewLoop(nil)
	if err != nil {
		panic(err)
	}
	defer l.Close()
	var stats evnet.RelayStats
	var relayErr error
	ln, err := evnet.Listen(l, "tcp", "127.0.0.1:0", evnet.Handler{
		OnOpen: func(c *evnet.Conn) {
			evnet.DialRelay(c, evnet.Dialer{}, "tcp", upstream.Addr().String(), nil, func(s evnet.RelayStats, err error) {
				stats, relayErr = s, err
				l.Break(eddy.BreakAll)
			})
		},
		OnData: func(*evnet.Conn, []byte) int { return 0 },
	})
	if err != nil {
		panic(err)
	}
	got := make(chan []byte, 1)
	go func() {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			panic(err)
		}
		io.WriteString(c, "hello")
		c.(*net.TCPConn).CloseWrite()
		b, _ := io.ReadAll(c)
		c.Close()
		got <- b
	}()
	l.Run()
	ln.Close()
	fmt.Printf("client got %q\n", <-got)
	fmt.Printf("relayed %d bytes up, %d down, err %v\n", stats.AToB, stats.BToA, relayErr)
	// Output:
	// client got "hello"
	// relayed 5 bytes up, 5 down, err <nil>
}
