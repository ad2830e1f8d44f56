//go:build unix && !linux

package eddy

import "golang.org/x/sys/unix"

// openPidfd reports that this system has no pidfds, so that every Child
// watcher relies on SIGCHLD.
func openPidfd(pid int) (int, error) { return -1, unix.ENOSYS }
