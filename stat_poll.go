//go:build unix && !linux

package eddy

// Without inotify, Stat polls: its timer re-stats the path every interval.

// statSys is a Stat's kernel-notification state: none here.
type statSys struct{}

// statLoopSys is a loop's shared kernel-notification state: none here.
type statLoopSys struct{}

// release releases the shared state: nothing to do.
func (ls *statLoopSys) release() {}

// sysStart reports that no kernel notification is available: poll.
func (s *Stat) sysStart() bool { return false }

// sysStop has nothing to undo.
func (s *Stat) sysStop() {}

// sysRewatch has nothing to renew.
func (s *Stat) sysRewatch() {}

// sysWatchingDir reports false: nothing is watched.
func (s *Stat) sysWatchingDir() bool { return false }

// inUse reports that nothing is held; for tests.
func (ls *statLoopSys) inUse() (bool, int) { return false, 0 }
