package eddy

import (
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// ReadFile reads the whole file at path on the loop's work pool (LaneFast)
// and then calls cb on the loop with its contents, as os.ReadFile returns
// them. It must be called on the loop goroutine. Errors from the pool
// (ErrQueueFull, ErrPoolClosed, ErrCanceled when the pool is closed first)
// reach cb too, from the loop, never inside ReadFile. The read keeps the loop
// alive until cb has run; on a closed loop cb never runs.
func (l *Loop) ReadFile(path string, cb func(data []byte, err error)) {
	var data []byte
	var err error
	l.queueFile(func() { data, err = os.ReadFile(path) }, func(qerr error) {
		if qerr != nil {
			data, err = nil, qerr
		}
		cb(data, err)
	})
}

// WriteFile writes data to the file at path on the loop's work pool
// (LaneFast), creating it with permissions perm (before the umask) or
// truncating it, as os.WriteFile does, and then calls cb on the loop with
// the result. Data must not be modified until cb runs. It must be called on
// the loop goroutine; errors and lifetime are as for ReadFile.
func (l *Loop) WriteFile(path string, data []byte, perm os.FileMode, cb func(err error)) {
	var err error
	l.queueFile(func() { err = os.WriteFile(path, data, perm) }, func(qerr error) {
		if qerr != nil {
			err = qerr
		}
		cb(err)
	})
}

// StatFile stats path on the loop's work pool (LaneFast), following
// symbolic links as stat(2) does, and then calls cb on the loop with its
// attributes: the StatAttr a Stat watcher would see. A path that cannot be
// stat'ed gives the zero StatAttr and an *fs.PathError (errors.Is(err,
// fs.ErrNotExist) for a missing file). It must be called on the loop
// goroutine; errors and lifetime are as for ReadFile.
func (l *Loop) StatFile(path string, cb func(attr StatAttr, err error)) {
	var attr StatAttr
	var err error
	l.queueFile(func() { attr, err = statFile(path) }, func(qerr error) {
		if qerr != nil {
			attr, err = StatAttr{}, qerr
		}
		cb(attr, err)
	})
}

// queueFile queues a file helper's work on the fast lane, and hands an error
// to done on the loop when it cannot be queued.
func (l *Loop) queueFile(work func(), done func(err error)) {
	if _, err := l.Queue(LaneFast, work, done); err != nil {
		l.Post(func() { done(err) })
	}
}

// statFile returns the attributes of path and why it could not be stat'ed.
// statPath, shared with the Stat watcher, does the conversion but drops the
// reason of a failure; only then is the path stat'ed again for it.
func statFile(path string) (StatAttr, error) {
	for range 3 {
		if a := statPath(path); a.Exists {
			return a, nil
		}
		var st unix.Stat_t
		err := unix.Stat(path, &st)
		for err == unix.EINTR {
			err = unix.Stat(path, &st)
		}
		if err != nil {
			return StatAttr{}, &fs.PathError{Op: "stat", Path: path, Err: err}
		}
		// Created between the two calls: try again.
	}
	return StatAttr{}, &fs.PathError{Op: "stat", Path: path, Err: unix.EAGAIN}
}
