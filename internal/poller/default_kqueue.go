//go:build (darwin || dragonfly || freebsd || netbsd || openbsd) && !evpoll

package poller

// New returns the best backend for this system: kqueue on the BSDs and macOS.
func New() (Poller, error) { return NewKqueue() }

// defaultName is the Name of the backend New returns.
const defaultName = "kqueue"
