//go:build linux

package evnet

// The connections' descriptors are nonblocking, so their reads and writes
// never sleep in the kernel: they are made as raw system calls, without
// telling the Go scheduler that the goroutine enters a system call. That
// saves the scheduler's bookkeeping on every call and, above all, keeps the
// runtime's monitor thread from taking the processor away from a loop that
// is busy with many short calls (a hand-off wakes another thread, on the
// same CPU when the process is pinned to one).

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// zero is a valid address for empty buffers.
var zero uintptr

func rawRead(fd int, p []byte) (int, error) {
	ptr := unsafe.Pointer(&zero)
	if len(p) > 0 {
		ptr = unsafe.Pointer(&p[0])
	}
	r, _, e := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(ptr), uintptr(len(p)))
	if e != 0 {
		return -1, e
	}
	return int(r), nil
}

func rawWrite(fd int, p []byte) (int, error) {
	ptr := unsafe.Pointer(&zero)
	if len(p) > 0 {
		ptr = unsafe.Pointer(&p[0])
	}
	r, _, e := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(ptr), uintptr(len(p)))
	if e != 0 {
		return -1, e
	}
	return int(r), nil
}

// rawAccept takes the next connection waiting on the nonblocking listener
// fd, as a nonblocking, close-on-exec descriptor, without asking for the
// peer's address (which would cost two allocations per connection).
func rawAccept(fd int) (int, error) {
	for {
		r, _, e := unix.RawSyscall6(unix.SYS_ACCEPT4, uintptr(fd), 0, 0,
			unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0)
		switch e {
		case 0:
			return int(r), nil
		case unix.EINTR:
			continue
		}
		return -1, e
	}
}
