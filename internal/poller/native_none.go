//go:build unix && !(linux || darwin || dragonfly || freebsd || netbsd || openbsd)

package poller

// natives is empty: this system has no readiness interface of its own that
// eddy knows, and poll(2) is its only backend.
var natives []builtin
