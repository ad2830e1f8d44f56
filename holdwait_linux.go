//go:build linux

package eddy

import (
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// holdWait waits up to d for the backend's descriptor fd to become
// readable without leaving the Go processor: a raw ppoll, which the
// runtime does not see as a system call. It reports whether fd is
// readable; a signal (the runtime's preemption among them) ends it early.
//
// Why: a goroutine that blocks in an ordinary system call on a process
// with one processor (GOMAXPROCS=1) has the processor taken away by the
// runtime's monitor after 20µs or so; taking it hands it to another
// thread, and getting it back wakes the monitor, which then polls every
// 20µs for the next millisecond. For a loop that sleeps briefly thousands
// of times a second, that costs more CPU than the loop's own work. Short
// sleeps are therefore taken while holding the processor, and only the
// long ones in the backend's wait.
func holdWait(fd int, d time.Duration) bool {
	pfd := unix.PollFd{Fd: int32(fd), Events: unix.POLLIN}
	ts := unix.NsecToTimespec(int64(d))
	n, _, e := unix.RawSyscall6(unix.SYS_PPOLL, uintptr(unsafe.Pointer(&pfd)), 1,
		uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
	return e == 0 && n > 0
}

const canHoldWait = true
