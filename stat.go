package eddy

import (
	"time"

	"golang.org/x/sys/unix"
)

// Default Stat intervals, used when Init is given an interval of zero.
const (
	// statBackstop is the re-stat period while the kernel reports changes
	// (inotify watches the parent directory): a backstop only.
	statBackstop = 5 * time.Second
	// statPoll is the polling period without kernel notifications.
	statPoll = time.Second
)

// statNotify lets Stat use kernel notifications (inotify); tests clear it
// to force polling.
var statNotify = true

// StatAttr holds the attributes of a path that a Stat watcher compares, as
// stat(2) reports them (symbolic links are followed). Field types are the
// same on every system; values are converted from unix.Stat_t.
type StatAttr struct {
	// Exists reports whether stat succeeded. When it is false (no such
	// file, but also a permission error or a symbolic link loop), every
	// other field is zero.
	Exists bool
	// Size is the size in bytes.
	Size int64
	// Mode is the raw st_mode: the file type bits (unix.S_IFMT) and the
	// permission bits.
	Mode uint32
	// ModTime is the time of the last modification of the contents.
	ModTime time.Time
	// Ino is the inode number; it changes when the file is replaced.
	Ino uint64
	// Dev is the device holding the file.
	Dev uint64
	// Nlink is the number of hard links.
	Nlink uint64
}

// Equal reports whether a and b hold the same attributes. Use it rather than
// ==, which also compares the location and monotonic reading of ModTime.
func (a StatAttr) Equal(b StatAttr) bool {
	return a.Exists == b.Exists && a.Size == b.Size && a.Mode == b.Mode &&
		a.ModTime.Equal(b.ModTime) && a.Ino == b.Ino && a.Dev == b.Dev && a.Nlink == b.Nlink
}

// IsDir reports whether the attributes are those of a directory.
func (a StatAttr) IsDir() bool { return a.Exists && a.Mode&unix.S_IFMT == unix.S_IFDIR }

// statPath returns the attributes of path; a failed stat gives the zero
// StatAttr, whose Exists is false.
func statPath(path string) StatAttr {
	var st unix.Stat_t
	for {
		err := unix.Stat(path, &st)
		if err == nil {
			break
		}
		if err != unix.EINTR {
			return StatAttr{}
		}
	}
	sec, nsec := st.Mtim.Unix()
	return StatAttr{
		Exists:  true,
		Size:    st.Size,
		Mode:    uint32(st.Mode),
		ModTime: time.Unix(sec, nsec),
		Ino:     uint64(st.Ino),
		Dev:     uint64(st.Dev),
		Nlink:   uint64(st.Nlink),
	}
}

// Stat calls back when the attributes of a path change: "did this file
// change?". It compares the StatAttr of the path (size, mode, modification
// time, inode, device, link count, existence) with the last ones seen, and
// runs the callback when they differ: the file was created, deleted,
// written, had its mode changed, or was replaced by another (a rename over
// it, as resolv.conf is rewritten). In the callback Attr holds the new
// attributes and Prev the ones before the change. The path need not exist:
// its creation is a change. Stat follows symbolic links, as stat(2) does.
//
// On Linux one inotify descriptor per loop serves every Stat of the loop.
// Each Stat watches the path itself (writes, attribute changes, its
// deletion or move) and its parent directory (entries created, deleted or
// renamed), so that replacing the file by rename is seen, and it re-adds the
// watch on the path whenever the path names a new file. Every kernel event
// about the path makes the watcher stat it again and compare. Because
// inotify misses changes made by other machines on network filesystems,
// the path is also stat'ed every interval as a backstop; the default
// interval (zero) is 5s while the parent directory is watched and 1s while
// it is not (when it does not exist). A symbolic link is resolved when its
// watch is added: changes to the link's target are seen, but a change of
// where a link in the path points is only seen by the backstop.
//
// Elsewhere, and on Linux when inotify is unavailable (too many instances,
// for example), the watcher polls: it stat's the path every interval, 1s by
// default. A shorter interval notices changes sooner at the cost of one
// stat(2) per interval per watcher.
//
// The special problem of timestamp granularity: the watcher only sees
// attributes, not contents. A change that keeps the size and lands within
// the same modification-time tick as the previous one (filesystems keep
// coarse timestamps; some only seconds) leaves the attributes unchanged and
// is not reported, with inotify too. Polling also merges every change
// within one interval into one callback, and misses a file that is created
// and deleted between two polls. Writers that need every change seen should
// replace the file by rename, which changes the inode.
//
// Changes that happen before the callback runs are merged: the callback
// runs once, with Prev the attributes before the first of them and Attr the
// latest ones. A Stat keeps the loop alive while it is active; its internal
// watchers do not.
type Stat struct {
	watcher
	cb       func(s *Stat)
	path     string
	interval time.Duration
	attr     StatAttr
	prev     StatAttr
	timer    Timer     // re-stat period (polling, or the inotify backstop), unreferenced
	sl       *statLoop // the loop's Stat registry, set while active
	notify   bool      // kernel notifications in use (sys holds watches)
	sys      statSys   // the platform's per-watcher state
	idx      int32
}

// statLoop is a loop's Stat registry: every active Stat, and the
// platform's shared state (the inotify descriptor on Linux).
type statLoop struct {
	l   *Loop
	all list[*Stat]
	sys statLoopSys
}

// statLoopOf returns l's Stat registry, creating it and registering its
// clean-up with Close the first time.
func statLoopOf(l *Loop) *statLoop {
	if l.statw == nil {
		l.statw = &statLoop{l: l}
		l.onClose = append(l.onClose, l.closeStats)
	}
	return l.statw
}

// closeStats stops the Stat watchers of l, which is being closed, which
// releases the shared state, and forgets the registry.
func (l *Loop) closeStats() {
	sl := l.statw
	l.statw = nil
	for len(sl.all.items) > 0 {
		sl.all.items[0].Stop()
	}
	sl.sys.release()
}

// NewStat returns a Stat initialised with Init.
func NewStat(cb func(s *Stat), path string, interval time.Duration) *Stat {
	s := new(Stat)
	s.Init(cb, path, interval)
	return s
}

// Init sets the callback, the path to watch and the interval between two
// stat calls: the polling period, or with inotify the backstop period. An
// interval of zero or less picks the default (see Stat). It must not be
// called while the watcher is active.
func (s *Stat) Init(cb func(s *Stat), path string, interval time.Duration) {
	s.cb = cb
	s.Set(path, interval)
}

// Set changes the path and interval of a stopped watcher; it has no effect
// on an active one.
func (s *Stat) Set(path string, interval time.Duration) {
	if s.active {
		return
	}
	s.path = path
	s.interval = max(interval, 0)
}

// Path returns the watched path.
func (s *Stat) Path() string { return s.path }

// Interval returns the interval given to Init or Set; zero means the
// default.
func (s *Stat) Interval() time.Duration { return s.interval }

// Attr returns the attributes of the path last seen: when Start was called,
// or at the change that is being reported.
func (s *Stat) Attr() StatAttr { return s.attr }

// Prev returns the attributes the path had before the change being
// reported; before the first change it is the zero StatAttr.
func (s *Stat) Prev() StatAttr { return s.prev }

// Start starts watching: it reads the attributes of the path (see Attr)
// and calls back whenever they change from then on. Starting an active
// watcher does nothing. It returns ErrClosed on a closed loop. When the
// kernel refuses notifications the watcher polls instead; that is not an
// error.
func (s *Stat) Start(l *Loop) error {
	if s.active {
		return nil
	}
	if l.closed {
		return ErrClosed
	}
	sl := statLoopOf(l)
	s.sl = sl
	s.activate(l)
	sl.all.add(s)
	// Watch first, then stat: a change after the stat cannot go unseen.
	s.notify = statNotify && s.sysStart()
	s.attr, s.prev = statPath(s.path), StatAttr{}
	p := s.period()
	s.timer.Init(s.onTimer, p, p)
	s.timer.Unref()
	s.timer.Start(l)
	return nil
}

// Stop stops watching. A pending callback is forgotten, even one queued by
// Loop.Feed on an inactive watcher; otherwise stopping an inactive watcher
// does nothing. The loop's inotify descriptor is closed with its last Stat.
func (s *Stat) Stop() {
	if !s.active {
		s.clearPending() // fed with Loop.Feed while stopped
		return
	}
	s.timer.Stop()
	if s.notify {
		s.sysStop()
		s.notify = false
	}
	sl := s.sl
	sl.all.remove(s)
	s.sl = nil
	s.deactivate()
	if len(sl.all.items) == 0 {
		sl.sys.release()
	}
}

// period returns the time between two re-stats.
func (s *Stat) period() time.Duration {
	switch {
	case s.interval > 0:
		return s.interval
	case s.notify && s.sysWatchingDir():
		return statBackstop
	}
	return statPoll
}

// onTimer re-stats the path: the poll, or the inotify backstop.
func (s *Stat) onTimer(_ *Timer) { s.refresh() }

// refresh renews the kernel watches, stats the path, and queues the
// callback if the attributes changed.
func (s *Stat) refresh() {
	if !s.active {
		return
	}
	if s.notify {
		s.sysRewatch()
		if p := s.period(); p != s.timer.Repeat() {
			s.timer.SetRepeat(p)
			if p < s.timer.Remaining() {
				s.timer.Again() // sooner: the parent directory went away
			}
		}
	}
	a := statPath(s.path)
	if a.Equal(s.attr) {
		return
	}
	if s.pending == 0 {
		s.prev = s.attr // keep the attributes the callback last reported
	}
	s.attr = a
	s.loop.queue(s, 0)
}

func (s *Stat) slot() *int32     { return &s.idx }
func (s *Stat) invoke(ev Events) { s.cb(s) }
