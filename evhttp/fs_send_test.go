package evhttp_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddyloop/eddy/evhttp"
	"github.com/eddyloop/eddy/internal/testutil"
)

// sendFileHarness serves handlers that use ResponseWriter.SendFile on a
// file of known bytes, and records how its regions were released.
type sendFileHarness struct {
	data []byte
	path string

	mu       sync.Mutex
	releases []string // the release of each region, in order: "nil" or the error
	errs     []string // what the handler's calls returned, when unexpected
	held     *evhttp.ResponseWriter
}

func (h *sendFileHarness) open(t testing.TB) *os.File {
	f, err := os.Open(h.path)
	if err != nil {
		t.Error(err)
	}
	return f
}

func (h *sendFileHarness) done(f *os.File) func(error) {
	return func(err error) {
		h.mu.Lock()
		h.releases = append(h.releases, fmt.Sprint(err))
		h.mu.Unlock()
		f.Close()
	}
}

func (h *sendFileHarness) fail(format string, args ...any) {
	h.mu.Lock()
	h.errs = append(h.errs, fmt.Sprintf(format, args...))
	h.mu.Unlock()
}

func (h *sendFileHarness) report() (releases, errs []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.releases...), append([]string(nil), h.errs...)
}

// serve answers by path:
//
//	/buffered   "<" written, then bytes 10-109 of the file: Content-Length 101
//	/declared   a declared length: "<", bytes 0-9, ">", bytes 20-29
//	/chunked    Flush (a chunked head), "<", bytes 0-4999, ">"
//	/toolong    a declared length of 10 and a region of 11: refused
//	/notmod     304, then a region: refused
//	/hold       Async, kept until the test ends it
//	/pending    bytes 0-99 at once, whatever the responses before
func (h *sendFileHarness) serve(t testing.TB) evhttp.HandlerFunc {
	return func(w *evhttp.ResponseWriter, r *evhttp.Request) {
		switch string(r.Path()) {
		case "/buffered":
			w.WriteString("<")
			f := h.open(t)
			if err := w.SendFile(f, 10, 100, h.done(f)); err != nil {
				h.fail("buffered: %v", err)
			}
			if _, err := w.WriteString("x"); !errors.Is(err, evhttp.ErrContentLength) {
				h.fail("a write after the region that ended the body: %v", err)
			}
		case "/declared":
			w.SetContentLength(22)
			w.WriteString("<")
			f := h.open(t)
			w.SendFile(f, 0, 10, h.done(f))
			w.WriteString(">")
			f2 := h.open(t)
			w.SendFile(f2, 20, 10, nil)
		case "/chunked":
			w.Flush()
			w.WriteString("<")
			f := h.open(t)
			if err := w.SendFile(f, 0, 5000, h.done(f)); err != nil {
				h.fail("chunked: %v", err)
			}
			w.WriteString(">")
		case "/toolong":
			w.SetContentLength(10)
			f := h.open(t)
			if err := w.SendFile(f, 0, 11, h.done(f)); !errors.Is(err, evhttp.ErrContentLength) {
				h.fail("toolong: %v", err)
			}
			if f.Fd() == ^uintptr(0) {
				h.fail("toolong: the refused file was closed")
			}
			f.Close()
			w.WriteString("0123456789")
		case "/notmod":
			w.WriteHeader(304)
			f := h.open(t)
			if err := w.SendFile(f, 0, 1, h.done(f)); !errors.Is(err, evhttp.ErrBodyNotAllowed) {
				h.fail("notmod: %v", err)
			}
			f.Close()
		case "/hold":
			w.Async()
			h.mu.Lock()
			h.held = w
			h.mu.Unlock()
		case "/pending":
			f := h.open(t)
			if err := w.SendFile(f, 0, 100, h.done(f)); err != nil {
				h.fail("pending: %v", err)
			}
		default:
			w.WriteHeader(404)
		}
		if string(r.Path()) != "/hold" {
			if err := w.End(); err != nil {
				h.fail("End: %v", err)
			}
			f := h.open(t)
			if err := w.SendFile(f, 0, 1, nil); !errors.Is(err, evhttp.ErrEnded) {
				h.fail("SendFile after End: %v", err)
			}
			f.Close()
		}
	}
}

func newSendFileHarness(t *testing.T) (*sendFileHarness, *svServer) {
	h := &sendFileHarness{data: svPattern(64 << 10), path: filepath.Join(t.TempDir(), "file")}
	if err := os.WriteFile(h.path, h.data, 0o644); err != nil {
		t.Fatal(err)
	}
	s := svStart(t, &evhttp.Server{Handler: h.serve(t)})
	t.Cleanup(func() {
		if _, errs := h.report(); len(errs) > 0 {
			t.Errorf("handler: %q", errs)
		}
	})
	return h, s
}

// TestSendFileResponses: SendFile's framing with bytes written before and
// after it: a length made of both, a declared length, a chunk; HEAD;
// and what it refuses (leaving the file to the caller).
func TestSendFileResponses(t *testing.T) {
	h, s := newSendFileHarness(t)
	d := string(h.data)
	c, br := svDial(t, s.addr)
	for _, tc := range []struct {
		method, path string
		status       int
		length       int64 // -1: chunked
		body         string
	}{
		{"GET", "/buffered", 200, 101, "<" + d[10:110]},
		{"HEAD", "/buffered", 200, 101, ""},
		{"GET", "/declared", 200, 22, "<" + d[:10] + ">" + d[20:30]},
		{"GET", "/chunked", 200, -1, "<" + d[:5000] + ">"},
		{"HEAD", "/chunked", 200, -1, ""},
		{"GET", "/toolong", 200, 10, "0123456789"},
		{"GET", "/notmod", 304, 0, ""},
	} {
		fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: x\r\n\r\n", tc.method, tc.path)
		resp, body := svRead(t, br, tc.method)
		if resp.StatusCode != tc.status || body != tc.body || tc.status == 200 && resp.ContentLength != tc.length {
			t.Errorf("%s %s: %v, length %d, %d bytes %.40q", tc.method, tc.path, resp.Status, resp.ContentLength, len(body), body)
		}
		if tc.length == -1 && tc.method == "GET" && (len(resp.TransferEncoding) != 1 || resp.TransferEncoding[0] != "chunked") {
			t.Errorf("%s: not chunked: %v", tc.path, resp.TransferEncoding)
		}
	}
	// HTTP/1.0: the chunked response is delimited by the close.
	c2, br2 := svDial(t, s.addr)
	fmt.Fprintf(c2, "GET /chunked HTTP/1.0\r\n\r\n")
	resp, body := svRead(t, br2, "GET")
	if body != "<"+d[:5000]+">" || !resp.Close {
		t.Errorf("HTTP/1.0: %d bytes, close %v", len(body), resp.Close)
	}
	releases, _ := h.report()
	if strings.Join(releases, ",") != "<nil>,<nil>,<nil>,<nil>,<nil>,<nil>" {
		t.Errorf("releases %q, want six nil", releases)
	}
}

// TestSendFilePending: a response pipelined behind one in progress keeps
// its region, in order with its bytes, until its turn; if the connection
// ends first, the region is released with the reason.
func TestSendFilePending(t *testing.T) {
	h, s := newSendFileHarness(t)
	d := string(h.data)
	c, br := svDial(t, s.addr)
	io.WriteString(c, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\nGET /pending HTTP/1.1\r\nHost: x\r\n\r\nGET /chunked HTTP/1.1\r\nHost: x\r\n\r\nGET /declared HTTP/1.1\r\nHost: x\r\n\r\n")
	if !testutil.Eventually(5*time.Second, func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.held != nil && len(h.errs) == 0
	}) {
		t.Fatal("the first request was not held")
	}
	s.barrier() // the others have run and wait
	if releases, _ := h.report(); len(releases) != 0 {
		t.Fatalf("released before their turn: %q", releases)
	}
	s.do(func() {
		h.held.WriteString("first")
		h.held.End()
	})
	for _, want := range []string{"first", d[:100], "<" + d[:5000] + ">", "<" + d[:10] + ">" + d[20:30]} {
		if _, body := svRead(t, br, "GET"); body != want {
			t.Errorf("%d bytes %.40q, want %d", len(body), body, len(want))
		}
	}
	if !testutil.Eventually(5*time.Second, func() bool { r, _ := h.report(); return len(r) == 3 }) {
		r, _ := h.report()
		t.Errorf("releases %q", r)
	}

	// The client leaves while the regions wait: they are released with
	// the connection's end.
	h.mu.Lock()
	h.releases, h.held = nil, nil
	h.mu.Unlock()
	c2, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c2, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\nGET /pending HTTP/1.1\r\nHost: x\r\n\r\nGET /chunked HTTP/1.1\r\nHost: x\r\n\r\n")
	if !testutil.Eventually(5*time.Second, func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.held != nil
	}) {
		t.Fatal("not held")
	}
	s.barrier() // the others have run and wait
	c2.(*net.TCPConn).SetLinger(0)
	c2.Close()
	if !testutil.Eventually(5*time.Second, func() bool { r, _ := h.report(); return len(r) == 2 }) {
		r, _ := h.report()
		t.Fatalf("releases %q", r)
	}
	releases, _ := h.report()
	for _, r := range releases {
		if r == "<nil>" {
			t.Errorf("a region released as sent: %q", releases)
		}
	}
	s.do(func() {
		if err := h.held.End(); err == nil {
			t.Error("End after the client left: nil")
		}
	})
}
