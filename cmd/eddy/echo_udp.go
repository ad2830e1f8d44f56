package main

import (
	"errors"
	"net/netip"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evnet"
)

// echoUDP starts a UDP echo server on the loop l, bound to ap: every
// datagram is sent back to its sender. It must be called on l's goroutine
// or before l runs, and so must stop, which closes the socket (Post it from
// elsewhere). Errors that do not stop the server (a reply dropped because
// the send queue is full, an ICMP error) are logged with logf; a run of
// drops is logged once, with its count when it ends.
func echoUDP(l *eddy.Loop, ap netip.AddrPort, logf func(string, ...any)) (stop func(), err error) {
	var dropped int // replies dropped since the last one that went out
	echo := func(c *evnet.PacketConn, p []byte, from netip.AddrPort) {
		err := c.WriteTo(p, from)
		switch {
		case err == nil:
			if dropped > 1 {
				logf("udp echo: %d replies dropped in all", dropped)
			}
			dropped = 0
		case errors.Is(err, evnet.ErrPacketQueueFull):
			if dropped++; dropped == 1 {
				logf("udp echo: reply to %s: %v", from, err)
			}
		default:
			logf("udp echo: reply to %s: %v", from, err)
		}
	}
	c, err := evnet.ListenUDP(l, ap, echo, &evnet.PacketConfig{
		OnError: func(c *evnet.PacketConn, err error) { logf("udp echo: %v", err) },
		OnClose: func(c *evnet.PacketConn, err error) {
			if err != nil {
				logf("udp echo: closed: %v", err)
			}
		},
	})
	if err != nil {
		return nil, err
	}
	return func() { c.Close() }, nil
}
