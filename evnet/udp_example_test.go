package evnet_test

import (
	"fmt"
	"net/netip"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evnet"
)

// A UDP echo server and a connected client on one loop. The loop runs
// until both are closed, since nothing else keeps it alive.
func ExampleListenUDP() {
	l, err := eddy.NewLoop(nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()

	// The server sends every datagram back to its sender.
	srv, err := evnet.ListenUDP(l, netip.MustParseAddrPort("127.0.0.1:0"),
		func(c *evnet.PacketConn, p []byte, from netip.AddrPort) {
			if err := c.WriteTo(p, from); err != nil {
				fmt.Println("echo:", err)
			}
		}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}

	// The client prints the reply, then closes both sockets.
	cli, err := evnet.DialUDP(l, srv.LocalAddr(),
		func(c *evnet.PacketConn, p []byte, from netip.AddrPort) {
			fmt.Printf("%q back from the server: %v\n", p, from == srv.LocalAddr())
			c.Close()
			srv.Close()
		}, &evnet.PacketConfig{
			OnClose: func(c *evnet.PacketConn, err error) { fmt.Println("client closed:", err) },
		})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := cli.Write([]byte("hello")); err != nil {
		fmt.Println(err)
		return
	}
	if err := l.Run(); err != nil {
		fmt.Println(err)
	}
	// Output:
	// "hello" back from the server: true
	// client closed: <nil>
}
