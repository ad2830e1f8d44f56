package evnet

// The PROXY protocol header (HAProxy's proxy-protocol.txt, versions 1 and
// 2) that a relay may send to the side it connects to, so that the
// server there learns the client's address.

import (
	"errors"
	"net/netip"
	"strconv"
)

// ProxyProtocol is a version of the PROXY protocol header, which tells a
// server behind a proxy the addresses of the client's connection (HAProxy's
// specification, understood by nginx's "listen ... proxy_protocol",
// HAProxy's "accept-proxy", Envoy and most load balancers).
type ProxyProtocol uint8

const (
	// ProxyNone sends no header.
	ProxyNone ProxyProtocol = iota
	// ProxyV1 is the human-readable version 1: one line such as
	// "PROXY TCP4 192.0.2.1 198.51.100.2 51234 443\r\n".
	ProxyV1
	// ProxyV2 is the binary version 2: a 16-byte header and the addresses.
	ProxyV2
)

// ErrProxyProtocol reports a ProxyProtocol value that is not a version.
var ErrProxyProtocol = errors.New("evnet: unknown PROXY protocol version")

// proxyHeaderMax is the longest header AppendProxyHeader makes: version
// 1's limit (107 bytes with two IPv6 addresses) is above version 2's 52.
const proxyHeaderMax = 107

// proxyV2Sig starts every version 2 header.
const proxyV2Sig = "\r\n\r\n\x00\r\nQUIT\n"

// AppendProxyHeader appends to dst the PROXY protocol header of version v
// for a connection from source to destination (the client's address and
// the address it connected to, as a proxy's accepted connection gives
// them: RemoteAddr and LocalAddr) and returns the extended slice. The
// command is always PROXY, the transport TCP.
//
// Both addresses are given in one family, as the protocol requires: an
// IPv4-mapped IPv6 address is unmapped when the other is IPv4 or mapped
// too, and an IPv4 address is mapped into IPv6 when the other is IPv6.
// When either address is invalid (a Unix socket's), the header says the
// addresses are unknown: "PROXY UNKNOWN\r\n" in version 1, the family
// AF_UNSPEC with no address in version 2; the server then uses the
// connection's own addresses.
func AppendProxyHeader(dst []byte, v ProxyProtocol, source, destination netip.AddrPort) ([]byte, error) {
	if v != ProxyV1 && v != ProxyV2 {
		return dst, ErrProxyProtocol
	}
	src, dstAddr := source.Addr(), destination.Addr()
	known := src.IsValid() && dstAddr.IsValid()
	if known {
		if src.Unmap().Is4() && dstAddr.Unmap().Is4() {
			src, dstAddr = src.Unmap(), dstAddr.Unmap()
		} else {
			src, dstAddr = as16(src), as16(dstAddr)
		}
	}
	if v == ProxyV1 {
		if !known {
			return append(dst, "PROXY UNKNOWN\r\n"...), nil
		}
		dst = append(dst, "PROXY TCP4 "...)
		if src.Is6() {
			dst[len(dst)-2] = '6'
		}
		dst = src.WithZone("").AppendTo(dst)
		dst = append(dst, ' ')
		dst = dstAddr.WithZone("").AppendTo(dst)
		dst = append(dst, ' ')
		dst = strconv.AppendUint(dst, uint64(source.Port()), 10)
		dst = append(dst, ' ')
		dst = strconv.AppendUint(dst, uint64(destination.Port()), 10)
		return append(dst, "\r\n"...), nil
	}
	dst = append(dst, proxyV2Sig...)
	dst = append(dst, 0x21) // version 2, command PROXY
	switch {
	case !known:
		return append(dst, 0x00, 0, 0), nil // AF_UNSPEC, no address
	case src.Is4():
		dst = append(dst, 0x11, 0, 12) // TCP over IPv4
	default:
		dst = append(dst, 0x21, 0, 36) // TCP over IPv6
	}
	dst = append(dst, src.AsSlice()...)
	dst = append(dst, dstAddr.AsSlice()...)
	sp, dp := source.Port(), destination.Port()
	return append(dst, byte(sp>>8), byte(sp), byte(dp>>8), byte(dp)), nil
}

// as16 returns a as an IPv6 address, mapping an IPv4 one.
func as16(a netip.Addr) netip.Addr {
	if a.Is4() {
		return netip.AddrFrom16(a.As16())
	}
	return a
}
