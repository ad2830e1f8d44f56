//go:build linux && !evpoll

package poller

// New returns the best backend for this system: epoll on Linux.
func New() (Poller, error) { return NewEpoll() }
