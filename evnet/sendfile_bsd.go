//go:build darwin || dragonfly || freebsd

package evnet

import "golang.org/x/sys/unix"

// sendfile sends up to n bytes of the file infd from off to the socket
// outfd with sendfile(2), and returns the bytes sent (never negative).
// On these systems a nonblocking socket may take part of the region and
// still report EAGAIN: the count is what was sent either way.
func sendfile(outfd, infd int, off int64, n int) (int, error) {
	if sendfileDisabled.Load() {
		return 0, unix.ENOSYS
	}
	k, err := unix.Sendfile(outfd, infd, &off, n)
	return max(k, 0), err
}
