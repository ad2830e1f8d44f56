//go:build unix && !(linux || darwin || dragonfly || freebsd)

package evnet

// No sendfile(2) here: every region takes sendfile.go's pread fallback.

import "golang.org/x/sys/unix"

// sendfile is missing on this system: every region is read with pread
// and written.
func sendfile(outfd, infd int, off int64, n int) (int, error) { return 0, unix.ENOSYS }
