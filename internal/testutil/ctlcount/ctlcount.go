// Package ctlcount wraps a loop's backend to count what the loop asks of it
// about descriptors, checking at every call whether the descriptor named is
// still open: a call on a closed descriptor is the failing system call
// (epoll_ctl's EBADF, which the backend swallows) that eddy.IO.StopForClose
// exists to avoid. For tests only.
package ctlcount

import (
	"golang.org/x/sys/unix"

	"github.com/eddyloop/eddy/internal/poller"
)

// Backend is a backend whose Modify and Forget calls are counted. Its
// Forget requires the wrapped backend to be a poller.Forgetter, as the
// built-in ones are.
type Backend struct {
	poller.Poller
	Modifies      int // Modify calls
	Removes       int // of which removals
	Forgets       int // Forget calls
	SharedForgets int // of which for a shared descriptor (epoll removes it then)
	OnClosed      int // calls, Modify or Forget, for a descriptor not open
}

// New wraps be.
func New(be poller.Poller) *Backend { return &Backend{Poller: be} }

// IsOpen reports whether fd names an open descriptor.
func IsOpen(fd int) bool {
	_, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	return err != unix.EBADF
}

// Modify counts the call, then passes it on.
func (b *Backend) Modify(fd int, gen uint32, prev, next poller.Events) error {
	b.Modifies++
	if next&poller.ReadWrite == 0 {
		b.Removes++
	}
	if !IsOpen(fd) {
		b.OnClosed++
	}
	return b.Poller.Modify(fd, gen, prev, next)
}

// Forget counts the call, then passes it on.
func (b *Backend) Forget(fd int, prev poller.Events, shared bool) error {
	b.Forgets++
	if shared {
		b.SharedForgets++
	}
	if !IsOpen(fd) {
		b.OnClosed++
	}
	return b.Poller.(poller.Forgetter).Forget(fd, prev, shared)
}
