//go:build linux

package eddy

import (
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// noPidfd records that the kernel has no pidfd_open (before Linux 5.3), so
// that later Child watchers go straight to SIGCHLD.
var noPidfd atomic.Bool

// openPidfd opens a pidfd for pid (close-on-exec, as pidfd_open always
// makes it). It becomes readable when the process exits, and stays readable
// until the process is reaped.
func openPidfd(pid int) (int, error) {
	if noPidfd.Load() {
		return -1, unix.ENOSYS
	}
	for {
		fd, err := unix.PidfdOpen(pid, 0)
		switch err {
		case nil:
			return fd, nil
		case unix.EINTR:
			continue
		case unix.ENOSYS:
			noPidfd.Store(true)
		}
		return -1, err
	}
}
