//go:build unix && (evpoll || !(linux || darwin || dragonfly || freebsd || netbsd || openbsd))

package poller

// New returns the best backend for this system: poll(2), either because the
// system has nothing better or because the evpoll build tag forces it.
func New() (Poller, error) { return NewPoll() }

// defaultName is the Name of the backend New returns.
const defaultName = "poll"
