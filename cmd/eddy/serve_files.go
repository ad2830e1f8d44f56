package main

// eddy serve -dir: the files under a directory, read on the loop's work
// pool (file system calls block, the loop must not) and streamed to the
// client a chunk at a time, following the connection's watermarks.
//
// What a request may reach is the directory and what lies under it: the
// path is percent-decoded once, an encoded separator (%2F, %5C), a
// backslash, a NUL or a ".." segment is refused (400), and a symbolic
// link is followed only if its target lies under the directory too
// (otherwise 404, as if it did not exist).

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evhttp"
)

// fileChunk is the size of one read of a file.
const fileChunk = 64 << 10

// fileServer serves the files under root.
type fileServer struct {
	root string // absolute, without symbolic links
}

func newFileServer(dir string) (*fileServer, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	root, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(root)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", dir)
	}
	return &fileServer{root: root}, nil
}

// ServeHTTP1 starts the lookup on the work pool; the response follows.
func (s *fileServer) ServeHTTP1(w *evhttp.ResponseWriter, r *evhttp.Request) {
	head := false
	switch string(r.Method()) {
	case "GET":
	case "HEAD":
		head = true
	default:
		w.Header().Set("Allow", "GET, HEAD")
		fileError(w, 405)
		return
	}
	name, ok := cleanURLPath(r.Path())
	if !ok {
		fileError(w, 400)
		return
	}
	fr := &fileRequest{srv: s, w: w, loop: r.Loop(), name: name, head: head}
	w.Async()
	w.OnDone(fr.done)
	w.OnDrain(func(*evhttp.ResponseWriter) { fr.read() })
	fr.busy = true
	if _, err := fr.loop.Queue(eddy.LaneFast, fr.open, fr.opened); err != nil {
		fr.busy = false
		w.Header().Set("Retry-After", "1")
		fileError(w, 503)
		w.End()
	}
}

// fileError answers with status and a one-line text body.
func fileError(w *evhttp.ResponseWriter, status int) {
	w.WriteHeader(status)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "%d %s\n", status, statusText(status))
}

func statusText(status int) string {
	switch status {
	case 301:
		return "Moved Permanently"
	case 400:
		return "Bad Request"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 405:
		return "Method Not Allowed"
	case 503:
		return "Service Unavailable"
	}
	return "Internal Server Error"
}

// fileRequest is one request for a file. Fields marked (work) are written
// by the work pool's goroutine and read on the loop after its done
// callback; the others belong to the loop.
type fileRequest struct {
	srv  *fileServer
	w    *evhttp.ResponseWriter
	loop *eddy.Loop
	name string // cleaned URL path
	head bool

	status   int       // (work) 0 if the file is open
	location string    // (work) for a redirect
	f        *os.File  // (work)
	size     int64     // (work)
	mod      time.Time // (work)
	ctype    string    // (work)
	buf      []byte    // (work) the last chunk read
	err      error     // (work) read error
	off      int64     // bytes sent so far
	busy     bool      // work is queued or running: its callback closes the file
	over     bool      // the exchange is over: only close the file
}

// open resolves the name under the root and opens the file. Work pool.
func (fr *fileRequest) open() {
	root := fr.srv.root
	full := filepath.Join(root, filepath.FromSlash(fr.name))
	real, err := fr.resolve(full)
	if err != nil {
		fr.status = statusOf(err)
		return
	}
	st, err := os.Stat(real)
	if err != nil {
		fr.status = statusOf(err)
		return
	}
	if st.IsDir() {
		if !strings.HasSuffix(fr.name, "/") {
			fr.status, fr.location = 301, fr.name+"/"
			return
		}
		if real, err = fr.resolve(filepath.Join(real, "index.html")); err != nil {
			fr.status = statusOf(err)
			if fr.status == 404 {
				fr.status = 403 // a directory without an index is not listed
			}
			return
		}
		if st, err = os.Stat(real); err != nil {
			fr.status = statusOf(err)
			return
		}
	}
	if !st.Mode().IsRegular() {
		fr.status = 403
		return
	}
	f, err := os.Open(real)
	if err != nil {
		fr.status = statusOf(err)
		return
	}
	fr.f, fr.size, fr.mod = f, st.Size(), st.ModTime()
	fr.ctype = mime.TypeByExtension(filepath.Ext(real))
	if fr.ctype == "" {
		fr.ctype = "application/octet-stream"
	}
}

// errOutside marks a path whose symbolic links lead out of the root.
var errOutside = errors.New("outside the served directory")

// resolve follows the symbolic links of path and checks that the result
// lies under the root.
func (fr *fileRequest) resolve(path string) (string, error) {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "", err
	}
	root := fr.srv.root
	if real != root && !strings.HasPrefix(real, strings.TrimSuffix(root, string(filepath.Separator))+string(filepath.Separator)) {
		return "", errOutside
	}
	return real, nil
}

func statusOf(err error) int {
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, errOutside), errors.Is(err, syscall.ENOTDIR),
		errors.Is(err, syscall.ENAMETOOLONG), errors.Is(err, syscall.ELOOP):
		return 404
	case errors.Is(err, fs.ErrPermission):
		return 403
	}
	return 500
}

// opened answers once open has run. Loop.
func (fr *fileRequest) opened(err error) {
	fr.busy = false
	if fr.over {
		fr.close()
		return
	}
	w := fr.w
	switch {
	case err != nil:
		fileError(w, 500)
	case fr.status == 301:
		w.Header().Set("Location", fr.location)
		fileError(w, 301)
	case fr.status != 0:
		fileError(w, fr.status)
	default:
		w.Header().Set("Content-Type", fr.ctype)
		w.Header().Set("Last-Modified", fr.mod.UTC().Format(httpTime))
		w.SetContentLength(fr.size)
		if fr.head || fr.size == 0 {
			w.End()
			return
		}
		fr.buf = make([]byte, fileChunk)
		fr.read()
		return
	}
	w.End()
}

// httpTime is the format of HTTP dates.
const httpTime = "Mon, 02 Jan 2006 15:04:05 GMT"

// read queues the read of the next chunk. Loop.
func (fr *fileRequest) read() {
	if fr.busy || fr.over || fr.f == nil {
		return
	}
	fr.busy = true
	off := fr.off
	work := func() {
		n, err := fr.f.ReadAt(fr.buf[:cap(fr.buf)], off)
		fr.buf = fr.buf[:n]
		if err == io.EOF {
			err = nil
		}
		fr.err = err
	}
	if _, err := fr.loop.Queue(eddy.LaneFast, work, fr.chunk); err != nil {
		fr.busy = false
		fr.w.Request().Conn().Close() // the length is promised: only closing ends it
	}
}

// chunk writes the chunk read, and reads on while the connection takes it.
// Loop.
func (fr *fileRequest) chunk(err error) {
	fr.busy = false
	if fr.over {
		fr.close()
		return
	}
	if err == nil {
		err = fr.err
	}
	if err == nil && len(fr.buf) == 0 && fr.off < fr.size {
		err = io.ErrUnexpectedEOF // the file shrank
	}
	if err != nil {
		fr.w.Request().Conn().Close()
		return
	}
	fr.w.Write(fr.buf)
	fr.off += int64(len(fr.buf))
	if fr.off >= fr.size {
		fr.w.End()
		return
	}
	if !fr.w.Full() {
		fr.read()
	}
}

// done closes the file when the exchange is over (unless a read is still
// running, whose callback closes it). Loop.
func (fr *fileRequest) done(*evhttp.ResponseWriter, error) {
	fr.over = true
	if !fr.busy {
		fr.close()
	}
}

func (fr *fileRequest) close() {
	if fr.f != nil {
		fr.f.Close()
		fr.f = nil
	}
}

// cleanURLPath decodes the path of a request and checks that it stays
// where it points: it returns the path with its empty segments removed,
// and false for anything that is not a plain absolute path (a bad
// escape, an encoded separator, a backslash, a NUL, a dot-dot segment).
func cleanURLPath(raw []byte) (string, bool) {
	if len(raw) == 0 || raw[0] != '/' {
		return "", false
	}
	var b strings.Builder
	b.Grow(len(raw))
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c == '%' {
			if i+2 >= len(raw) {
				return "", false
			}
			v, err := strconv.ParseUint(string(raw[i+1:i+3]), 16, 8)
			if err != nil {
				return "", false
			}
			c = byte(v)
			if c == '/' || c == '\\' || c == 0 {
				return "", false
			}
			i += 2
		} else if c == '\\' || c == 0 {
			return "", false
		}
		b.WriteByte(c)
	}
	p := b.String()
	var segs []string
	for seg := range strings.SplitSeq(p, "/") {
		switch seg {
		case "", ".":
		case "..":
			return "", false
		default:
			segs = append(segs, seg)
		}
	}
	out := "/" + strings.Join(segs, "/")
	if strings.HasSuffix(p, "/") && len(segs) > 0 {
		out += "/"
	}
	return out, true
}
