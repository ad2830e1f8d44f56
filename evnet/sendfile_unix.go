//go:build linux || darwin || dragonfly || freebsd

package evnet

// sendfile(2) where the system has it; sendfile.go queues and sends
// the regions.

import "golang.org/x/sys/unix"

// sendfile sends up to n bytes of the file infd from off to the socket
// outfd with sendfile(2), and returns the bytes sent (never negative).
// The system call is made through the scheduler (not raw): reading a file
// that is not in the page cache waits for the disk. On the BSDs and macOS
// a nonblocking socket may take part of the region and still report
// EAGAIN: the count is what was sent either way.
func sendfile(outfd, infd int, off int64, n int) (int, error) {
	if sendfileDisabled.Load() {
		return 0, unix.ENOSYS
	}
	k, err := unix.Sendfile(outfd, infd, &off, n)
	return max(k, 0), err
}
