//go:build linux

package eddy

import (
	"encoding/binary"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Inotify masks. The path's own mask includes the directory-entry events
// too, so that a Stat on a directory sees entries come and go (they change
// its modification time); on a file they never occur.
const (
	inotifyEntryMask = unix.IN_CREATE | unix.IN_DELETE | unix.IN_MOVED_FROM | unix.IN_MOVED_TO
	inotifyPathMask  = unix.IN_ATTRIB | unix.IN_MODIFY | unix.IN_CLOSE_WRITE |
		unix.IN_DELETE_SELF | unix.IN_MOVE_SELF | inotifyEntryMask
	inotifyDirMask = inotifyEntryMask
)

// Roles of a watch descriptor for a Stat.
const (
	rolePath = 0 // the watched path itself
	roleDir  = 1 // its parent directory
)

// statSys is a Stat's inotify state.
type statSys struct {
	wd    [2]int32 // watch descriptors by role; 0 for none (inotify numbers from 1)
	dir   string   // the parent directory of the cleaned path
	base  string   // the last element of the cleaned path, as named in dir's events
	dirty bool     // queued in statLoopSys.dirty
}

// statLoopSys is a loop's inotify state, shared by its Stat watchers.
type statLoopSys struct {
	open  bool
	fd    int
	io    IO                // on fd, unreferenced
	wds   map[int32][]*Stat // users of each watch descriptor, once per role
	dirty []*Stat           // watchers to re-stat after a batch of events
	buf   []byte
}

// ensure opens the loop's inotify descriptor and starts its watcher, if not
// done yet, and reports whether inotify is available.
func (ls *statLoopSys) ensure(l *Loop) bool {
	if ls.open {
		return true
	}
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return false
	}
	ls.io.Init(ls.onReadable, fd, Read)
	ls.io.Unref()
	if err := ls.io.Start(l); err != nil {
		unix.Close(fd)
		return false
	}
	ls.open, ls.fd = true, fd
	ls.wds = make(map[int32][]*Stat)
	return true
}

// release closes the loop's inotify descriptor, once no Stat uses it.
func (ls *statLoopSys) release() {
	if !ls.open {
		return
	}
	ls.io.StopForClose(false) // our own close-on-exec inotify descriptor: the close removes its registration
	unix.Close(ls.fd)
	ls.open = false
	ls.wds, ls.dirty, ls.buf = nil, nil, nil
}

// sysStart sets up the watches of s, and reports whether inotify is in use.
func (s *Stat) sysStart() bool {
	ls := &s.sl.sys
	if !ls.ensure(s.loop) {
		return false
	}
	clean := filepath.Clean(s.path)
	s.sys.dir, s.sys.base = filepath.Dir(clean), filepath.Base(clean)
	s.sys.wd = [2]int32{}
	s.sys.dirty = false
	s.sysRewatch()
	return true
}

// sysStop removes the watches of s.
func (s *Stat) sysStop() {
	ls := &s.sl.sys
	for role := range s.sys.wd {
		if wd := s.sys.wd[role]; wd != 0 {
			s.sys.wd[role] = 0
			ls.drop(wd, s)
		}
	}
	if s.sys.dirty {
		for i, d := range ls.dirty {
			if d == s {
				ls.dirty[i] = nil
			}
		}
		s.sys.dirty = false
	}
}

// sysWatchingDir reports whether the parent directory of the path is
// watched, so that the path's creation is reported by the kernel.
func (s *Stat) sysWatchingDir() bool { return s.sys.wd[roleDir] != 0 }

// sysRewatch adds the watches of s again: inotify_add_watch returns the
// existing descriptor when the inode is already watched, and a new one when
// the path or its directory now names another inode (it was replaced), or
// fails when the path does not exist. The masks are added to those of other
// watchers of the same inode (IN_MASK_ADD).
func (s *Stat) sysRewatch() {
	s.setWatch(rolePath, s.path, inotifyPathMask)
	s.setWatch(roleDir, s.sys.dir, inotifyDirMask)
}

func (s *Stat) setWatch(role int, path string, mask uint32) {
	ls := &s.sl.sys
	var wd int32
	for {
		n, err := unix.InotifyAddWatch(ls.fd, path, mask|unix.IN_MASK_ADD)
		if err == unix.EINTR {
			continue
		}
		if err == nil {
			wd = int32(n)
		}
		break
	}
	old := s.sys.wd[role]
	if wd == old {
		return
	}
	s.sys.wd[role] = wd
	if wd != 0 {
		ls.wds[wd] = append(ls.wds[wd], s)
	}
	if old != 0 {
		ls.drop(old, s)
	}
}

// drop removes one use of wd by s, and the kernel watch with the last one.
func (ls *statLoopSys) drop(wd int32, s *Stat) {
	users := ls.wds[wd]
	for i, u := range users {
		if u == s {
			users = append(users[:i], users[i+1:]...)
			break
		}
	}
	if len(users) > 0 {
		ls.wds[wd] = users
		return
	}
	delete(ls.wds, wd)
	// EINVAL when the kernel removed it already (the inode is gone); its
	// IN_IGNORED, if still queued, then names an unknown descriptor.
	unix.InotifyRmWatch(ls.fd, uint32(wd))
}

// onReadable reads the queued inotify events, marks the watchers they
// concern, and re-stats each of those once.
func (ls *statLoopSys) onReadable(_ *IO, _ Events) {
	if ls.buf == nil {
		ls.buf = make([]byte, 16*1024)
	}
	for ls.open {
		n, err := unix.Read(ls.fd, ls.buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n <= 0 {
			break // EAGAIN: drained
		}
		ls.parse(ls.buf[:n])
	}
	for i := 0; i < len(ls.dirty); i++ {
		s := ls.dirty[i]
		if s == nil {
			continue
		}
		s.sys.dirty = false
		s.refresh()
	}
	clear(ls.dirty)
	ls.dirty = ls.dirty[:0]
}

// parse handles a buffer of inotify events: struct inotify_event headers
// (wd, mask, cookie, len) each followed by len bytes of NUL-padded name.
func (ls *statLoopSys) parse(b []byte) {
	for len(b) >= unix.SizeofInotifyEvent {
		wd := int32(binary.NativeEndian.Uint32(b[0:]))
		mask := binary.NativeEndian.Uint32(b[4:])
		n := int(binary.NativeEndian.Uint32(b[12:]))
		end := min(unix.SizeofInotifyEvent+n, len(b))
		name := b[unix.SizeofInotifyEvent:end]
		for i, c := range name {
			if c == 0 {
				name = name[:i]
				break
			}
		}
		ls.event(wd, mask, name)
		b = b[end:]
	}
}

// event marks the watchers concerned by one inotify event.
func (ls *statLoopSys) event(wd int32, mask uint32, name []byte) {
	if mask&unix.IN_Q_OVERFLOW != 0 {
		// Events were lost: look at everything.
		for _, users := range ls.wds {
			for _, s := range users {
				ls.mark(s)
			}
		}
		return
	}
	users := ls.wds[wd]
	if users == nil {
		return
	}
	if mask&unix.IN_IGNORED != 0 {
		// The kernel removed the watch (its inode is gone): forget it,
		// and let the re-stat add the watches the path needs now.
		delete(ls.wds, wd)
		for _, s := range users {
			for role := range s.sys.wd {
				if s.sys.wd[role] == wd {
					s.sys.wd[role] = 0
				}
			}
			ls.mark(s)
		}
		return
	}
	for _, s := range users {
		switch {
		case s.sys.wd[rolePath] == wd && (len(name) == 0 || mask&inotifyEntryMask != 0):
			ls.mark(s) // the path itself, or an entry of the directory it names
		case s.sys.wd[roleDir] == wd && (len(name) == 0 || string(name) == s.sys.base):
			ls.mark(s) // its name in the parent directory
		}
	}
}

func (ls *statLoopSys) mark(s *Stat) {
	if !s.sys.dirty {
		s.sys.dirty = true
		ls.dirty = append(ls.dirty, s)
	}
}

// inUse reports whether the inotify descriptor is open, and how many watch
// descriptors it holds; for tests.
func (ls *statLoopSys) inUse() (bool, int) { return ls.open, len(ls.wds) }
