package evnet_test

import "golang.org/x/sys/unix"

// pipe returns a nonblocking pipe for examples, which have no testing.T.
func pipe() (r, w int) {
	var p [2]int
	if err := unix.Pipe(p[:]); err != nil {
		panic(err)
	}
	for _, fd := range p {
		unix.CloseOnExec(fd)
		unix.SetNonblock(fd, true)
	}
	return p[0], p[1]
}
