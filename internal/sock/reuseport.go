package sock

import "golang.org/x/sys/unix"

// setReusePort sets SO_REUSEPORT on fd.
func setReusePort(fd int) error {
	return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
}
