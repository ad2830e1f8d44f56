package eddy

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// statWait bounds the wait for a callback. With inotify it is shorter than
// the 5s backstop, so a change seen only by the backstop fails the test.
const statWait = 3 * time.Second

// statModes runs f with inotify (Linux only, default interval) and with
// polling forced through the statNotify seam (a 20ms interval).
func statModes(t *testing.T, f func(t *testing.T, interval time.Duration)) {
	t.Run("inotify", func(t *testing.T) {
		if runtime.GOOS != "linux" {
			t.Skip("inotify is Linux only")
		}
		f(t, 0)
	})
	t.Run("poll", func(t *testing.T) {
		statNotify = false
		defer func() { statNotify = true }()
		f(t, 20*time.Millisecond)
	})
}

// statRec records the callbacks of a Stat.
type statRec struct {
	n          int
	attr, prev StatAttr
}

func (r *statRec) cb(s *Stat) {
	r.n++
	r.attr, r.prev = s.Attr(), s.Prev()
}

// startStat starts a Stat on path that records into a new statRec.
func startStat(t *testing.T, l *Loop, path string, interval time.Duration) (*Stat, *statRec) {
	t.Helper()
	r := new(statRec)
	s := NewStat(r.cb, path, interval)
	if err := s.Start(l); err != nil {
		t.Fatalf("Start: %v", err)
	}
	return s, r
}

// await runs l until r has seen one more callback than n, and returns the
// new count.
func (r *statRec) await(t *testing.T, l *Loop, n int, what string) int {
	t.Helper()
	if !watchRunUntil(t, l, statWait, func() bool { return r.n > n }) {
		t.Fatalf("%s: no callback", what)
	}
	return r.n
}

func statWrite(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func statAppend(t *testing.T, path, data string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(data); err != nil {
		t.Fatal(err)
	}
}

func TestStatLifecycle(t *testing.T) {
	statModes(t, func(t *testing.T, interval time.Duration) {
		l := watchLoop(t)
		path := filepath.Join(t.TempDir(), "file")
		s, r := startStat(t, l, path, interval)
		if s.Attr().Exists || s.Path() != path {
			t.Fatalf("Attr() = %+v, Path() = %q", s.Attr(), s.Path())
		}

		statWrite(t, path, "hello")
		n := r.await(t, l, 0, "create")
		if !r.attr.Exists || r.attr.Size != 5 || r.prev.Exists {
			t.Fatalf("create: attr %+v prev %+v", r.attr, r.prev)
		}
		if r.attr.IsDir() || r.attr.Nlink != 1 || r.attr.Ino == 0 || r.attr.ModTime.IsZero() {
			t.Errorf("create: attr %+v", r.attr)
		}

		statAppend(t, path, ", world")
		n = r.await(t, l, n, "write")
		if r.attr.Size != 12 || r.prev.Size != 5 || r.attr.Ino != r.prev.Ino {
			t.Fatalf("write: attr %+v prev %+v", r.attr, r.prev)
		}

		if err := os.Chmod(path, 0o600); err != nil {
			t.Fatal(err)
		}
		n = r.await(t, l, n, "chmod")
		if r.attr.Mode&0o777 != 0o600 || r.prev.Mode&0o777 != 0o644 {
			t.Fatalf("chmod: mode %o, prev %o", r.attr.Mode, r.prev.Mode)
		}

		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		n = r.await(t, l, n, "delete")
		if r.attr.Exists || !r.prev.Exists || r.attr != (StatAttr{}) {
			t.Fatalf("delete: attr %+v prev %+v", r.attr, r.prev)
		}

		statWrite(t, path, "hello")
		r.await(t, l, n, "create again")
		if !r.attr.Exists || r.attr.Size != 5 || r.prev.Exists {
			t.Fatalf("create again: attr %+v prev %+v", r.attr, r.prev)
		}
	})
}

// TestStatRenameReplace: a file replaced by rename over it (how resolv.conf
// is rewritten) is reported, and so are later writes to the new file.
func TestStatRenameReplace(t *testing.T) {
	statModes(t, func(t *testing.T, interval time.Duration) {
		l := watchLoop(t)
		dir := t.TempDir()
		path := filepath.Join(dir, "resolv.conf")
		statWrite(t, path, "nameserver 10.0.0.1\n")
		s, r := startStat(t, l, path, interval)
		oldIno := s.Attr().Ino

		tmp := filepath.Join(dir, ".resolv.conf.tmp")
		statWrite(t, tmp, "nameserver 10.0.0.2\n") // same size
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
		n := r.await(t, l, 0, "rename")
		if r.attr.Ino == oldIno || r.prev.Ino != oldIno || !r.attr.Exists {
			t.Fatalf("rename: attr %+v prev %+v", r.attr, r.prev)
		}

		// The watch follows the path to the new file.
		statAppend(t, path, "nameserver 10.0.0.3\n")
		n = r.await(t, l, n, "write to the new file")
		if r.attr.Size != 40 {
			t.Fatalf("write: attr %+v", r.attr)
		}
		if open, wds := s.sl.sys.inUse(); interval == 0 && (!open || wds != 2) {
			t.Errorf("inotify open=%v with %d watches, want the file and its directory", open, wds)
		}

		// Renaming the file away is a deletion of the path.
		if err := os.Rename(path, filepath.Join(dir, "old")); err != nil {
			t.Fatal(err)
		}
		r.await(t, l, n, "rename away")
		if r.attr.Exists {
			t.Fatalf("rename away: attr %+v", r.attr)
		}
	})
}

func TestStatDirectory(t *testing.T) {
	statModes(t, func(t *testing.T, interval time.Duration) {
		l := watchLoop(t)
		path := filepath.Join(t.TempDir(), "dir")
		_, r := startStat(t, l, path+"/", interval) // a trailing slash names a directory

		if err := os.Mkdir(path, 0o755); err != nil {
			t.Fatal(err)
		}
		n := r.await(t, l, 0, "mkdir")
		if !r.attr.IsDir() {
			t.Fatalf("mkdir: attr %+v", r.attr)
		}

		// A subdirectory adds a link to its parent.
		if err := os.Mkdir(filepath.Join(path, "sub"), 0o755); err != nil {
			t.Fatal(err)
		}
		n = r.await(t, l, n, "mkdir sub")
		if r.attr.Equal(r.prev) || !r.attr.IsDir() {
			t.Fatalf("mkdir sub: attr %+v prev %+v", r.attr, r.prev)
		}

		if err := os.RemoveAll(path); err != nil {
			t.Fatal(err)
		}
		watchRunUntil(t, l, statWait, func() bool { return r.n > n && !r.attr.Exists })
		if r.attr.Exists {
			t.Fatalf("remove: attr %+v", r.attr)
		}
	})
}

func TestStatStop(t *testing.T) {
	statModes(t, func(t *testing.T, interval time.Duration) {
		l := watchLoop(t)
		path := filepath.Join(t.TempDir(), "file")
		s, r := startStat(t, l, path, interval)
		statWrite(t, path, "one")
		n := r.await(t, l, 0, "create")

		sl := s.sl
		s.Stop()
		s.Stop() // idempotent
		if s.IsActive() || l.Alive() {
			t.Fatalf("after Stop: active=%v alive=%v", s.IsActive(), l.Alive())
		}
		if open, wds := sl.sys.inUse(); open || wds != 0 {
			t.Fatalf("after the last Stop: inotify open=%v with %d watches", open, wds)
		}
		statAppend(t, path, "two")
		watchRunFor(t, l, 100*time.Millisecond)
		if r.n != n {
			t.Fatalf("%d callbacks after Stop", r.n-n)
		}

		// Restarting reads the attributes afresh: no callback for what
		// changed while stopped.
		if err := s.Start(l); err != nil {
			t.Fatal(err)
		}
		if s.Attr().Size != 6 || s.Prev() != (StatAttr{}) {
			t.Fatalf("after restart: attr %+v prev %+v", s.Attr(), s.Prev())
		}
		watchRunFor(t, l, 50*time.Millisecond)
		if r.n != n {
			t.Fatalf("%d callbacks after restart with no change", r.n-n)
		}

		// A change seen, then Stop before the callback runs: no callback.
		statAppend(t, path, "three")
		s.refresh()
		if !s.IsPending() {
			t.Fatal("change not queued")
		}
		s.Stop()
		watchRunFor(t, l, 50*time.Millisecond)
		if r.n != n {
			t.Fatal("callback of a watcher stopped while pending")
		}
	})
}

// TestStatMerge: changes made before the callback runs give one callback,
// with Prev the attributes before the first of them.
func TestStatMerge(t *testing.T) {
	statModes(t, func(t *testing.T, interval time.Duration) {
		l := watchLoop(t)
		path := filepath.Join(t.TempDir(), "file")
		statWrite(t, path, "1")
		s, r := startStat(t, l, path, interval)
		statAppend(t, path, "22")
		s.refresh()
		statAppend(t, path, "333")
		s.refresh()
		r.await(t, l, 0, "merged changes")
		watchRunFor(t, l, 50*time.Millisecond)
		if r.n != 1 || r.prev.Size != 1 || r.attr.Size != 6 {
			t.Fatalf("%d callbacks, attr %+v prev %+v; want one from size 1 to 6", r.n, r.attr, r.prev)
		}
	})
}

// TestStatSeveral: watchers of one loop share the inotify descriptor and
// watch descriptors, and each is told only about its own path.
func TestStatSeveral(t *testing.T) {
	statModes(t, func(t *testing.T, interval time.Duration) {
		l := watchLoop(t)
		dir := t.TempDir()
		a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
		sa, ra := startStat(t, l, a, interval)
		sa2, ra2 := startStat(t, l, a, interval) // the same path twice
		sb, rb := startStat(t, l, b, interval)
		sd, rd := startStat(t, l, dir, interval) // their directory

		statWrite(t, a, "a")
		ra.await(t, l, 0, "a")
		ra2.await(t, l, 0, "a, second watcher")
		rd.await(t, l, 0, "dir") // an entry was added
		watchRunFor(t, l, 50*time.Millisecond)
		if rb.n != 0 {
			t.Fatalf("b told about a: %+v", rb.attr)
		}

		sa.Stop()
		statWrite(t, b, "bb")
		rb.await(t, l, 0, "b")
		statAppend(t, a, "more")
		ra2.await(t, l, 1, "a after the other watcher of a stopped")
		if ra.n != 1 {
			t.Errorf("stopped watcher of a called %d times", ra.n)
		}

		sl := sd.sl
		for _, s := range []*Stat{sa2, sb, sd} {
			s.Stop()
		}
		if open, wds := sl.sys.inUse(); open || wds != 0 {
			t.Fatalf("after the last Stop: inotify open=%v with %d watches", open, wds)
		}
	})
}

// TestStatMissingParent: the parent directory does not exist yet. With
// inotify, the default interval drops to the 1s poll until it does.
func TestStatMissingParent(t *testing.T) {
	statModes(t, func(t *testing.T, interval time.Duration) {
		l := watchLoop(t)
		top := t.TempDir()
		path := filepath.Join(top, "x", "y", "file")
		s, r := startStat(t, l, path, interval)
		if interval == 0 && s.period() != statPoll {
			t.Fatalf("period %v without a parent directory, want %v", s.period(), statPoll)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		statWrite(t, path, "x")
		r.await(t, l, 0, "create under new directories")
		if !r.attr.Exists {
			t.Fatalf("attr %+v", r.attr)
		}
		if interval == 0 && s.period() != statBackstop {
			t.Errorf("period %v with the parent watched, want %v", s.period(), statBackstop)
		}
	})
}

// TestStatClose: Loop.Close stops the watchers and closes the inotify
// descriptor.
func TestStatClose(t *testing.T) {
	statModes(t, func(t *testing.T, interval time.Duration) {
		l := watchLoop(t)
		path := filepath.Join(t.TempDir(), "file")
		s, _ := startStat(t, l, path, interval)
		sl := s.sl
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if s.IsActive() {
			t.Fatal("active after Close")
		}
		if open, wds := sl.sys.inUse(); open || wds != 0 {
			t.Fatalf("after Close: inotify open=%v with %d watches", open, wds)
		}
		if l.statw != nil {
			t.Error("registry of a closed loop kept")
		}
		if err := s.Start(l); err != ErrClosed {
			t.Errorf("Start on a closed loop = %v, want ErrClosed", err)
		}
	})
}

func TestStatAttrEqual(t *testing.T) {
	now := time.Now()
	a := StatAttr{Exists: true, Size: 1, Mode: 0o100644, ModTime: now, Ino: 2, Dev: 3, Nlink: 1}
	b := a
	b.ModTime = now.Round(0).In(time.UTC) // same instant, no monotonic reading, other location
	if !a.Equal(b) {
		t.Errorf("%+v.Equal(%+v) = false", a, b)
	}
	for _, change := range []func(*StatAttr){
		func(x *StatAttr) { x.Exists = false },
		func(x *StatAttr) { x.Size++ },
		func(x *StatAttr) { x.Mode = 0o100600 },
		func(x *StatAttr) { x.ModTime = x.ModTime.Add(time.Nanosecond) },
		func(x *StatAttr) { x.Ino++ },
		func(x *StatAttr) { x.Dev++ },
		func(x *StatAttr) { x.Nlink++ },
	} {
		c := a
		change(&c)
		if a.Equal(c) {
			t.Errorf("%+v.Equal(%+v) = true", a, c)
		}
	}
}

// TestStatFedStop: a stopped watcher fed with Loop.Feed and stopped again
// does not run.
func TestStatFedStop(t *testing.T) {
	l := watchLoop(t)
	var s Stat
	s.Init(func(*Stat) { t.Error("callback of a stopped watcher") }, t.TempDir(), 0)
	l.Feed(&s, 0)
	s.Stop()
	if s.IsPending() {
		t.Fatal("still pending after Stop")
	}
	watchRunFor(t, l, 10*time.Millisecond)
}
