package eddy

import "errors"

var (
	// ErrClosed is returned when a closed Loop is used.
	ErrClosed = errors.New("eddy: loop closed")
	// ErrBadFd is returned when an IO watcher is started on a negative
	// descriptor.
	ErrBadFd = errors.New("eddy: invalid file descriptor")
	// ErrTriggerMismatch is returned when an IO watcher's Edge or OneShot
	// flags differ from those of the watchers already active on its fd.
	ErrTriggerMismatch = errors.New("eddy: watchers on one fd must share Edge and OneShot")
	// ErrNotPollable is returned when a loop's backend has no descriptor of
	// its own to be waited for (the poll backend), so that it can neither be
	// embedded nor parked in Go's runtime poller.
	ErrNotPollable = errors.New("eddy: backend has no pollable descriptor")
	// ErrRunning is returned by Close when called from inside Run.
	ErrRunning = errors.New("eddy: loop is running")
)
