package evhttp

// FileServer: its configuration, the Handler that answers from the files
// of a directory, and each loop's cache of open files. Opening a file is in
// fs_open.go, conditional and range requests in fs_cond.go, request paths
// in fs_path.go, and sending a file region in fs_send.go.

import (
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evhttp/internal/h1"
)

// Defaults of the FileServerConfig fields.
const (
	// DefaultFileIndex is the default FileServerConfig.Index.
	DefaultFileIndex = "index.html"
	// DefaultFileCacheTTL is the default FileServerConfig.CacheTTL.
	DefaultFileCacheTTL = time.Second
	// DefaultFileCacheSize is the default FileServerConfig.CacheSize.
	DefaultFileCacheSize = 256
	// DefaultMaxRanges is the default FileServerConfig.MaxRanges.
	DefaultMaxRanges = 16
)

// FileServerConfig holds the settings of a FileServer. The zero value
// (or a nil *FileServerConfig) is the default of every field.
type FileServerConfig struct {
	// Index is the name of the file served for a directory (default
	// DefaultFileIndex). A directory without it is answered 403: there
	// is no listing.
	Index string
	// CacheTTL is how long an open file and its attributes are reused,
	// on each loop, for the requests of the same path before the file is
	// looked up again (default DefaultFileCacheTTL; negative: every
	// request opens the file). See FileServer for what it changes.
	CacheTTL time.Duration
	// CacheSize bounds the open files each loop keeps (default
	// DefaultFileCacheSize); the oldest is closed to make room.
	CacheSize int
	// MaxRanges is the most ranges a multipart/byteranges response
	// carries (default DefaultMaxRanges); a request for more, or for
	// ranges that overlap to more than the file's size, gets the whole
	// file. 1 turns multipart responses off.
	MaxRanges int
	// CacheControl, if not empty, is sent as the Cache-Control field of
	// the 200, 206, 304 and 416 responses.
	CacheControl string
	// Lane is the lane of the work pool that opens the files (default
	// eddy.LaneFast).
	Lane eddy.Lane
}

// FileServer returns a native Handler that serves the files under the
// directory root. Made absolute and its symbolic links resolved when
// FileServer is called (or, if it does not exist yet, by the first
// request that finds it), root is the only part of the file system a
// request can reach.
//
// # Requests
//
// GET and HEAD are served; other methods get 405 with "Allow: GET,
// HEAD". The path of the target is percent-decoded once and must be a
// plain absolute path: a bad escape, an encoded separator (%2F, %5C), a
// backslash, a NUL or a ".." segment (plain or encoded) is refused with
// 400; empty and "." segments are dropped. A path whose symbolic links,
// resolved, lead out of root is answered 404, as if it did not exist;
// links that stay under root are followed. (The links are resolved, then
// the file is opened: on Linux the opened descriptor's own path is checked
// again, through /proc, which closes the window in which a link could be
// swapped; elsewhere that window remains, for whoever may write under
// root.)
//
// A directory is served its Index file when its path ends with a slash,
// and redirected (301) to the path with the slash otherwise; a directory
// without an Index is answered 403 (there is no listing). Files that are
// neither regular files nor directories (FIFOs, devices) are answered 403.
//
// # Responses
//
// Content-Type comes from the extension (mime.TypeByExtension, which
// reads the system's tables too); a name without an extension has its
// first 512 bytes sniffed (http.DetectContentType); anything else is
// application/octet-stream. Last-Modified is the modification time, and
// ETag a strong entity tag made of the modification time (to the
// nanosecond) and the size: it changes when the file does, unless a
// rewrite keeps both, which only a file system with coarse timestamps
// makes likely.
//
// Conditional requests follow RFC 9110 §13.2.2: If-Match (strong
// comparison), or else If-Unmodified-Since, fail with 412; then
// If-None-Match (weak comparison), or else If-Modified-Since, answer 304
// with the ETag. A Range of GET (RFC 9110 §14; HEAD ignores it, as the
// RFC says) is honoured if If-Range, when present, holds the current
// ETag or the exact Last-Modified date: one satisfiable range gets 206
// with Content-Range; several get 206 multipart/byteranges, up to
// MaxRanges of them and as long as they do not add up to more than the
// file; none satisfiable gets 416 with "Content-Range: bytes */SIZE"; a
// field that is not a bytes range set is ignored (200).
//
// # The loop
//
// Opening and stat'ing a file may block, so they run on the loop's work
// pool, and the response is finished when they are done; the body is
// sent with ResponseWriter.SendFile, so with sendfile(2), and never
// passes through the process. Each loop keeps the files it opened for
// CacheTTL (up to CacheSize of them): a request for one of them is
// answered at once, without leaving the loop and without allocating. The
// price is that a change to a file shows up to CacheTTL late: a file
// replaced (a new file renamed over it) is still served from the old
// one, and a file rewritten in place is served with its old length (a
// file that shrank closes the connection early, see evnet.ErrShortFile).
// Set CacheTTL negative where changes must be seen at once.
//
// The cached files of a loop are closed when they expire and when the
// loop is closed.
func FileServer(root string, cfg *FileServerConfig) Handler {
	s := &fileServer{root: root}
	if cfg != nil {
		s.opts = *cfg
	}
	o := &s.opts
	s.index = o.Index
	if s.index == "" {
		s.index = DefaultFileIndex
	}
	if o.CacheTTL == 0 {
		o.CacheTTL = DefaultFileCacheTTL
	}
	if o.CacheSize <= 0 {
		o.CacheSize = DefaultFileCacheSize
	}
	if o.MaxRanges <= 0 {
		o.MaxRanges = DefaultMaxRanges
	}
	if r, err := resolveRoot(root); err == nil {
		s.realRoot.Store(&r)
	}
	return s
}

// fileServer is the Handler FileServer returns. It is shared by the
// loops of a group; each loop has its own fsLoop.
type fileServer struct {
	root     string
	index    string
	opts     FileServerConfig
	realRoot atomic.Pointer[string] // root resolved, once it could be
	loops    sync.Map               // *eddy.Loop -> *fsLoop
}

// fsLoop is a FileServer's state on one loop: its cache of open files
// and its buffers. Loop goroutine only.
type fsLoop struct {
	s     *fileServer
	loop  *eddy.Loop
	cache map[string]*fsFile
	// The cached files in the order they were cached, which is the order
	// they expire in: oldest first.
	oldest, newest *fsFile
	sweep          eddy.Timer
	path           []byte      // the cleaned path of the request
	ranges         []byteRange // its ranges
	parts          []byte      // the part heads of a multipart response
}

// fsFile is an open file and what is answered with it. refs counts its
// holders: the cache, the requests answering with it, the file regions
// of responses not sent yet; the file is closed with the last. Loop
// goroutine only.
type fsFile struct {
	f       *os.File
	size    int64
	mod     time.Time // to the second, as Last-Modified says
	lastMod string    // "" if the time is not worth sending (zero, 1970)
	etag    string
	ctype   string
	key     string
	expires time.Time
	refs    int
	cached  bool
	older   *fsFile // cache order
	newer   *fsFile
	release func(error) // unref, bound once for SendFile
}

// state returns the server's state on the loop l, making it.
func (s *fileServer) state(l *eddy.Loop) *fsLoop {
	if v, ok := s.loops.Load(l); ok {
		return v.(*fsLoop)
	}
	ls := &fsLoop{s: s, loop: l, cache: make(map[string]*fsFile)}
	every := max(s.opts.CacheTTL, 10*time.Millisecond)
	ls.sweep.Init(ls.onSweep, every, every)
	ls.sweep.Unref() // the cache does not keep the loop running
	s.loops.Store(l, ls)
	l.OnClose(func() {
		ls.purge()
		s.loops.Delete(l)
	})
	return ls
}

// ServeHTTP1 answers a request for a file: at once from the loop's cache,
// or after the file is opened on the work pool.
func (s *fileServer) ServeHTTP1(w *ResponseWriter, r *Request) {
	head := false
	switch string(r.Method()) {
	case "GET":
	case "HEAD":
		head = true
	default:
		w.Header().Set("Allow", "GET, HEAD")
		fsError(w, 405)
		return
	}
	ls := s.state(r.Loop())
	var name []byte
	var ok bool
	ls.path, name, ok = cleanPath(ls.path[:0], r.Path())
	if !ok {
		fsError(w, 400)
		return
	}
	if e := ls.lookup(name); e != nil {
		e.refs++
		ls.respond(w, r, e, head)
		e.unref(nil)
		return
	}
	q := &fsReq{ls: ls, w: w, key: string(name), head: head}
	w.Async()
	w.OnDone(q.over)
	if _, err := r.Loop().Queue(s.opts.Lane, q.work, q.done); err != nil {
		w.Header().Set("Retry-After", "1")
		fsError(w, 503)
		w.End()
	}
}

// fsReq is a request waiting for its file to be opened. res is written
// by the work pool, and read on the loop in done.
type fsReq struct {
	ls    *fsLoop
	w     *ResponseWriter
	key   string
	head  bool
	ended bool // the exchange is over: w belongs to another request
	res   fsOpened
}

func (q *fsReq) work() { q.res = q.ls.s.open(q.key) }

func (q *fsReq) over(*ResponseWriter, error) { q.ended = true }

// done answers with what the work found. Loop.
func (q *fsReq) done(err error) {
	ls, res := q.ls, q.res
	if err != nil && res.f != nil { // the work panicked after the open
		res.f.Close()
		res.f = nil
	}
	var e *fsFile
	if res.f != nil {
		e = ls.newFile(q.key, &res)
		e.refs++
		ls.insert(e)
	}
	if q.ended {
		if e != nil {
			e.unref(nil)
		}
		return
	}
	w := q.w
	switch {
	case err != nil:
		fsError(w, 500)
	case e != nil:
		ls.respond(w, w.Request(), e, q.head)
		e.unref(nil)
	case res.status == 301:
		loc := (&url.URL{Path: q.key}).EscapedPath() + "/"
		if rq := w.Request().RawQuery(); rq != nil {
			loc += "?" + string(rq)
		}
		w.Header().Set("Location", loc)
		fsError(w, 301)
	default:
		fsError(w, res.status)
	}
	w.End()
}

// fsError answers with status and a one-line text body.
func fsError(w *ResponseWriter, status int) {
	w.WriteHeader(status)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	var b [64]byte
	p := strconv.AppendInt(b[:0], int64(status), 10)
	p = append(p, ' ')
	p = append(p, h1.StatusText(status)...)
	p = append(p, '\n')
	w.Write(p)
}

// respond answers r with the file e (held by the caller). Loop.
func (ls *fsLoop) respond(w *ResponseWriter, r *Request, e *fsFile, head bool) {
	opts := &ls.s.opts
	h := w.Header()
	switch preconditions(r, e) {
	case condNotModified:
		h.Set("ETag", e.etag)
		if opts.CacheControl != "" {
			h.Set("Cache-Control", opts.CacheControl)
		}
		w.WriteHeader(304)
		return
	case condFailed:
		fsError(w, 412)
		return
	}
	h.Set("Accept-Ranges", "bytes")
	if e.lastMod != "" {
		h.Set("Last-Modified", e.lastMod)
	}
	h.Set("ETag", e.etag)
	if opts.CacheControl != "" {
		h.Set("Cache-Control", opts.CacheControl)
	}
	if rv := r.Header("Range"); rv != nil && !head && ifRange(r, e) {
		ranges, ok := parseRange(ls.ranges[:0], rv, e.size)
		ls.ranges = ranges[:0]
		switch {
		case !ok:
		case len(ranges) == 0:
			h.Set("Content-Range", "bytes */"+strconv.FormatInt(e.size, 10))
			fsError(w, 416)
			return
		case len(ranges) == 1:
			rg := ranges[0]
			h.Set("Content-Type", e.ctype)
			h.Set("Content-Range", contentRange(nil, rg, e.size))
			w.WriteHeader(206)
			e.send(w, rg.start, rg.n)
			return
		case len(ranges) <= opts.MaxRanges && sumRanges(ranges) <= e.size:
			ls.multipart(w, e, ranges)
			return
		}
	}
	h.Set("Content-Type", e.ctype)
	e.send(w, 0, e.size)
}

// send sends n bytes of e from off as the body, e holding one more ref
// until they are sent.
func (e *fsFile) send(w *ResponseWriter, off, n int64) {
	e.refs++
	if err := w.SendFile(e.f, off, n, e.release); err != nil {
		e.refs--
	}
}

// multipart answers with the ranges as a multipart/byteranges body.
func (ls *fsLoop) multipart(w *ResponseWriter, e *fsFile, ranges []byteRange) {
	var rnd [12]byte
	rand.Read(rnd[:])
	boundary := hex.EncodeToString(rnd[:])
	// The part heads, one after the other in ls.parts; ends[i] is where
	// the head of part i ends.
	b := ls.parts[:0]
	ends := make([]int, len(ranges))
	total := int64(0)
	for i, rg := range ranges {
		if i > 0 {
			b = append(b, "\r\n"...)
		}
		b = append(b, "--"...)
		b = append(b, boundary...)
		b = append(b, "\r\nContent-Type: "...)
		b = append(b, e.ctype...)
		b = append(b, "\r\nContent-Range: "...)
		b = append(b, contentRange(nil, rg, e.size)...)
		b = append(b, "\r\n\r\n"...)
		ends[i] = len(b)
		total += rg.n
	}
	b = append(b, "\r\n--"...)
	b = append(b, boundary...)
	b = append(b, "--\r\n"...)
	total += int64(len(b))
	if cap(b) <= maxRetain {
		ls.parts = b[:0]
	}
	w.Header().Set("Content-Type", "multipart/byteranges; boundary="+boundary)
	w.WriteHeader(206)
	w.SetContentLength(total)
	at := 0
	for i, rg := range ranges {
		if _, err := w.Write(b[at:ends[i]]); err != nil {
			return
		}
		at = ends[i]
		e.send(w, rg.start, rg.n)
	}
	w.Write(b[at:])
}

// contentRange formats "bytes START-END/SIZE".
func contentRange(dst []byte, rg byteRange, size int64) string {
	dst = append(dst, "bytes "...)
	dst = strconv.AppendInt(dst, rg.start, 10)
	dst = append(dst, '-')
	dst = strconv.AppendInt(dst, rg.start+rg.n-1, 10)
	dst = append(dst, '/')
	dst = strconv.AppendInt(dst, size, 10)
	return string(dst)
}

func sumRanges(ranges []byteRange) int64 {
	var n int64
	for _, rg := range ranges {
		n += rg.n
	}
	return n
}

// newFile makes the fsFile of what an open found, with no holder yet.
func (ls *fsLoop) newFile(key string, res *fsOpened) *fsFile {
	e := &fsFile{f: res.f, size: res.size, ctype: res.ctype, key: key}
	e.release = e.unref
	e.etag = etagOf(res.mod, res.size)
	e.mod = res.mod.Truncate(time.Second)
	if e.mod.Unix() > 0 {
		e.lastMod = string(h1.AppendDate(nil, e.mod))
	}
	res.f = nil
	return e
}

// unref drops a holder of e, and closes the file with the last.
func (e *fsFile) unref(error) {
	e.refs--
	if e.refs == 0 {
		e.f.Close()
	}
}

// lookup returns the cached file of the cleaned path name, if it has not
// expired.
func (ls *fsLoop) lookup(name []byte) *fsFile {
	e := ls.cache[string(name)]
	if e == nil {
		return nil
	}
	if !ls.loop.Now().Before(e.expires) {
		ls.evict(e)
		return nil
	}
	return e
}

// insert caches e (unless the cache is off), in place of the file cached
// for its path before.
func (ls *fsLoop) insert(e *fsFile) {
	o := &ls.s.opts
	if o.CacheTTL < 0 {
		return
	}
	if old := ls.cache[e.key]; old != nil {
		ls.evict(old)
	}
	for len(ls.cache) >= o.CacheSize && ls.oldest != nil {
		ls.evict(ls.oldest)
	}
	e.cached = true
	e.refs++
	e.expires = ls.loop.Now().Add(o.CacheTTL)
	e.older = ls.newest
	if ls.newest != nil {
		ls.newest.newer = e
	} else {
		ls.oldest = e
	}
	ls.newest = e
	ls.cache[e.key] = e
	if !ls.sweep.IsActive() {
		ls.sweep.Start(ls.loop)
	}
}

// evict takes e out of the cache.
func (ls *fsLoop) evict(e *fsFile) {
	if !e.cached {
		return
	}
	e.cached = false
	delete(ls.cache, e.key)
	if e.older != nil {
		e.older.newer = e.newer
	} else {
		ls.oldest = e.newer
	}
	if e.newer != nil {
		e.newer.older = e.older
	} else {
		ls.newest = e.older
	}
	e.older, e.newer = nil, nil
	e.unref(nil)
}

// onSweep closes the cached files that have expired.
func (ls *fsLoop) onSweep(*eddy.Timer) {
	now := ls.loop.Now()
	for ls.oldest != nil && !now.Before(ls.oldest.expires) {
		ls.evict(ls.oldest)
	}
	if ls.oldest == nil {
		ls.sweep.Stop()
	}
}

// purge empties the cache: the loop is closing.
func (ls *fsLoop) purge() {
	ls.sweep.Stop()
	for ls.oldest != nil {
		ls.evict(ls.oldest)
	}
}
