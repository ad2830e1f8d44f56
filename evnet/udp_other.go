//go:build unix && !linux

package evnet

// Without recvmmsg and sendmmsg, every PacketConn reads and writes one
// datagram per system call (recvmsg and sendto, in udp.go).

import "net/netip"

// udpHaveBatch reports that this system has no recvmmsg and sendmmsg.
const udpHaveBatch = false

// udpBatch holds nothing here: the per-datagram path needs only
// udpShared.buf.
type udpBatch struct{}

func (b *udpBatch) init(buf []byte, n, size int) {}

// readBatch is never called here (perPacket is always set); it reads one
// datagram per call all the same.
func (c *PacketConn) readBatch() { c.readPerPacket() }

// sendNow sends one datagram with sendto.
func (c *PacketConn) sendNow(p []byte, to netip.AddrPort) error { return c.sendOne(p, to) }

// sendQueued sends the head of the queue with one sendto.
func (c *PacketConn) sendQueued() (int, error) {
	p := &c.q[c.qhead]
	if err := c.sendOne(p.b, p.to); err != nil {
		return 0, err
	}
	return 1, nil
}
