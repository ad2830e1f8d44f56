package evhttp

// The client's address of a server connection, learnt once and kept in the
// conn in a compact form (peerAddr), so that it costs no allocation.

import "net/netip"

// peerAddr is a connection's remote address kept in its conn: the 16
// bytes of the address, the port and its kind, nothing a pointer leads
// to, so that keeping it costs no allocation.
type peerAddr struct {
	ip   [16]byte // an IPv4 address as IPv4-mapped IPv6
	port uint16
	kind uint8
}

// peerAddr kinds.
const (
	peerUnknown uint8 = iota // not learnt, or not kept (see set)
	peer4                    // an IPv4 address
	peer6                    // an IPv6 address without a zone (an IPv4-mapped one included)
	peerNone                 // no IP address: a Unix socket's peer, or one the kernel would not tell
)

// set keeps ap and reports whether it could: an invalid address (a Unix
// socket's peer, a closed connection's) is kept as peerNone; an IPv6 one
// with a zone is not kept, which would take a pointer to the zone's name.
func (p *peerAddr) set(ap netip.AddrPort) bool {
	a := ap.Addr()
	switch {
	case !a.IsValid():
		p.kind = peerNone
		return true
	case a.Is4():
		p.kind = peer4
	case a.Zone() == "":
		p.kind = peer6
	default:
		return false
	}
	p.ip = a.As16()
	p.port = ap.Port()
	return true
}

// get returns the address set kept, and whether there is one.
func (p *peerAddr) get() (netip.AddrPort, bool) {
	switch p.kind {
	case peer4:
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(p.ip[12:])), p.port), true
	case peer6:
		return netip.AddrPortFrom(netip.AddrFrom16(p.ip), p.port), true
	case peerNone:
		return netip.AddrPort{}, true
	}
	return netip.AddrPort{}, false
}

// remoteAddr returns the client's address: asked of the kernel the first
// time, then kept (hc.remote), unless it has a zone, which is asked for
// each time (an IPv6 link-local client's, if evnet reported zones).
func (hc *conn) remoteAddr() netip.AddrPort {
	if ap, ok := hc.remote.get(); ok {
		return ap
	}
	ap := hc.c.RemoteAddr()
	hc.remote.set(ap)
	return ap
}
