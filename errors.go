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
	// ErrUnknownBackend is returned by NewLoop when Config.BackendName is
	// not one of Backends(); the error wrapping it lists them.
	ErrUnknownBackend = errors.New("eddy: unknown backend")
	// ErrRunning is returned by Close when called from inside Run.
	ErrRunning = errors.New("eddy: loop is running")
	// ErrBadSignal is returned when a Signal is started for a signal that cannot
	// be watched.
	ErrBadSignal = errors.New("eddy: signal cannot be watched")
	// ErrBadPid is returned when a Child is started for a process id that is not
	// positive.
	ErrBadPid = errors.New("eddy: invalid process id")
	// ErrEmbedSelf is returned by Embed.Start when the inner loop is nil or is
	// the loop the Embed would be started on: a loop can embed only another loop.
	ErrEmbedSelf = errors.New("eddy: Embed needs an inner loop other than the outer one")
)
