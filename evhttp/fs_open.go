package evhttp

// The work pool's side of FileServer: finding a path under the root,
// opening and stat'ing it, its content type. Nothing here touches the
// loop; the result goes back through the work item's done callback.

import (
	"errors"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// fsOpened is what an open found: a regular file (f not nil), or the
// status to answer (301 for a directory asked without its slash, 403,
// 404, 500, 503).
type fsOpened struct {
	status int
	f      *os.File
	size   int64
	mod    time.Time
	ctype  string
}

// errOutside marks a path whose symbolic links lead out of the root.
var errOutside = errors.New("evhttp: path resolves outside the served directory")

// resolveRoot returns the root made absolute, with its symbolic links
// resolved.
func resolveRoot(root string) (string, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(abs)
}

// open finds name (a cleaned URL path) under the root and opens it.
// Work pool.
func (s *fileServer) open(name string) fsOpened {
	root := s.realRoot.Load()
	if root == nil {
		r, err := resolveRoot(s.root)
		if err != nil {
			return fsOpened{status: statusOf(err)}
		}
		s.realRoot.CompareAndSwap(nil, &r)
		root = s.realRoot.Load()
	}
	wantDir := strings.HasSuffix(name, "/")
	o, err := openUnder(*root, *root+filepath.FromSlash(strings.TrimSuffix(name, "/")))
	switch {
	case err != nil:
		return fsOpened{status: statusOf(err)}
	case o.dir && !wantDir:
		return fsOpened{status: 301}
	case o.dir:
		if o, err = openUnder(*root, filepath.Join(o.real, s.index)); err != nil {
			status := statusOf(err)
			if status == 404 {
				status = 403 // a directory without an index is not listed
			}
			return fsOpened{status: status}
		}
	case wantDir && o.f != nil:
		o.f.Close()
		return fsOpened{status: 404}
	}
	if o.f == nil {
		return fsOpened{status: 403} // not a regular file (an index directory too)
	}
	res := fsOpened{f: o.f, size: o.size, mod: o.mod}
	ext := filepath.Ext(o.real)
	res.ctype = mime.TypeByExtension(ext)
	if res.ctype == "" && ext == "" && res.size > 0 {
		// No extension: sniff the first bytes, as net/http does.
		var buf [512]byte
		n, _ := o.f.ReadAt(buf[:], 0)
		res.ctype = http.DetectContentType(buf[:n])
	}
	if res.ctype == "" {
		res.ctype = "application/octet-stream"
	}
	return res
}

// fsFound is what openUnder found: an open regular file (f), or a
// directory (dir), or something else (neither: a FIFO, a device).
type fsFound struct {
	f    *os.File
	dir  bool
	size int64
	mod  time.Time
	real string // the path, symbolic links resolved
}

// openUnder opens path, after checking that its symbolic links, resolved,
// keep it under root. Nothing but a file or a directory is opened, and
// only a regular file is kept open. The check and the open are two steps,
// and a symbolic link swapped in between could lead the open elsewhere:
// where the system can tell the path of an open descriptor (Linux's
// /proc), the opened file's own path is checked again.
func openUnder(root, path string) (fsFound, error) {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		var pe *fs.PathError
		if !errors.As(err, &pe) {
			err = &fs.PathError{Op: "readlink", Path: path, Err: syscall.ELOOP} // "too many links"
		}
		return fsFound{}, err
	}
	if !under(root, real) {
		return fsFound{}, errOutside
	}
	// Only files and directories are opened: opening a device may act
	// (rewind a tape, arm a watchdog). Lstat, as real has no links left.
	var pre unix.Stat_t
	if err := unix.Lstat(real, &pre); err != nil {
		return fsFound{}, &fs.PathError{Op: "lstat", Path: real, Err: err}
	}
	if m := pre.Mode & unix.S_IFMT; m != unix.S_IFREG && m != unix.S_IFDIR {
		return fsFound{real: real}, nil
	}
	// O_NONBLOCK: opening a FIFO (swapped in since) must not wait for a
	// writer; O_NOFOLLOW: the last element cannot have become a link since;
	// O_NOCTTY: nor can a terminal become the process's.
	fd, err := unix.Open(real, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK|unix.O_NOFOLLOW|unix.O_NOCTTY, 0)
	if err != nil {
		return fsFound{}, &fs.PathError{Op: "open", Path: real, Err: err}
	}
	if p, ok := fdPath(fd); ok && !under(root, p) {
		unix.Close(fd)
		return fsFound{}, errOutside
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return fsFound{}, &fs.PathError{Op: "fstat", Path: real, Err: err}
	}
	found := fsFound{real: real}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		unix.SetNonblock(fd, false) // a plain file for os: no poller
		found.f = os.NewFile(uintptr(fd), real)
		found.size = st.Size
		found.mod = time.Unix(st.Mtim.Unix())
		return found, nil
	case unix.S_IFDIR:
		found.dir = true
	}
	unix.Close(fd)
	return found, nil
}

// under reports whether path is root or lies under it.
func under(root, path string) bool {
	if path == root {
		return true
	}
	prefix := root
	if !strings.HasSuffix(prefix, string(filepath.Separator)) {
		prefix += string(filepath.Separator)
	}
	return strings.HasPrefix(path, prefix)
}

// statusOf turns an error of the open into a status.
func statusOf(err error) int {
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, errOutside), errors.Is(err, syscall.ENOTDIR),
		errors.Is(err, syscall.ENAMETOOLONG), errors.Is(err, syscall.ELOOP), errors.Is(err, syscall.EINVAL):
		return 404
	case errors.Is(err, fs.ErrPermission):
		return 403
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		return 503
	}
	return 500
}

// etagOf makes the entity tag of a file from its modification time (to
// the nanosecond) and size: a strong tag, see FileServer.
func etagOf(mod time.Time, size int64) string {
	b := make([]byte, 0, 32)
	b = append(b, '"')
	b = strconv.AppendInt(b, mod.UnixNano(), 16)
	b = append(b, '-')
	b = strconv.AppendInt(b, size, 16)
	b = append(b, '"')
	return string(b)
}
