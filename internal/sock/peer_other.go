//go:build unix && !linux

package sock

import (
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"
)

// RemoteAddr returns the IP address of the peer of the socket fd.
func RemoteAddr(fd int) (netip.AddrPort, error) {
	sa, err := unix.Getpeername(fd)
	if err != nil {
		return netip.AddrPort{}, err
	}
	if ap, ok := AddrPortOf(sa); ok {
		return ap, nil
	}
	return netip.AddrPort{}, fmt.Errorf("sock: unexpected socket address %T", sa)
}
