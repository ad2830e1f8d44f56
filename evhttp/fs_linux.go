//go:build linux

package evhttp

// The path of an open descriptor, read from /proc, for FileServer's check
// after an open (see openUnder).

import (
	"strconv"

	"golang.org/x/sys/unix"
)

// fdPath returns the path of the open descriptor fd, as /proc tells it,
// and false if it cannot be told (no /proc).
func fdPath(fd int) (string, bool) {
	var buf [4096]byte
	n, err := unix.Readlink("/proc/self/fd/"+strconv.Itoa(fd), buf[:])
	if err != nil || n <= 0 || n == len(buf) {
		return "", false
	}
	return string(buf[:n]), true
}
