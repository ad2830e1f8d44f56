//go:build aix || darwin

package poller

import "golang.org/x/sys/unix"

// newPipe returns a nonblocking, close-on-exec pipe on systems without
// pipe2, setting the flags after creation. Another goroutine that forks in
// between could leak the descriptors into a child; the loop does not fork.
func newPipe() (r, w int, err error) {
	var p [2]int
	if err := unix.Pipe(p[:]); err != nil {
		return -1, -1, err
	}
	for _, fd := range p {
		unix.CloseOnExec(fd)
		if err := unix.SetNonblock(fd, true); err != nil {
			unix.Close(p[0])
			unix.Close(p[1])
			return -1, -1, err
		}
	}
	return p[0], p[1], nil
}
