//go:build linux && !evpoll

package poller

// New returns the best backend for this system: epoll on Linux.
func New() (Poller, error) { return NewEpoll() }

// defaultName is the Name of the backend New returns.
const defaultName = "epoll"
