package evhttp_test

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eddyloop/eddy/evhttp"
)

// fsTree makes a directory of files for the FileServer tests, with
// symbolic links that stay inside and lead outside, and a secret file
// outside it. It returns the directory and the outside one.
func fsTree(t testing.TB) (root, outside string) {
	t.Helper()
	outside = t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	root = t.TempDir()
	for name, data := range map[string][]byte{
		"index.html":      []byte("<h1>home</h1>"),
		"style.css":       []byte("h1{}"),
		"data.bin":        svPattern(100 << 10),
		"README":          []byte("just some text\n"),
		"sub/note.txt":    []byte("note"),
		"docs/index.html": []byte("docs"),
		"empty.txt":       nil,
		"a b/c%d.txt":     []byte("spaced"),
		".hidden":         []byte("dot"),
	} {
		path := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for link, target := range map[string]string{
		"link-out":   filepath.Join(outside, "secret"),
		"dir-out":    outside,
		"rel-out":    "../" + filepath.Base(outside) + "/secret",
		"link-in":    filepath.Join(root, "style.css"),
		"rel-in":     "sub/note.txt",
		"docs-link":  "docs",
		"loop":       "loop",
		"sub/up-out": "../../" + filepath.Base(outside),
	} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(root, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	return root, outside
}

// fsStart serves FileServer(root, opts) on a loop of its own.
func fsStart(t testing.TB, root string, opts *evhttp.FileServerConfig) *svServer {
	t.Helper()
	return svStart(t, &evhttp.Server{Handler: evhttp.FileServer(root, opts)})
}

// fsGet sends a raw request on a new connection and reads the response.
func fsGet(t *testing.T, addr, method, target string, header ...string) (*http.Response, string) {
	t.Helper()
	c, br := svDial(t, addr)
	fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: x\r\n%s\r\n", method, target, strings.Join(header, ""))
	return svRead(t, br, method)
}

// TestFileServerPaths: what each path gets, over one keep-alive
// connection: files and their types, indexes and redirects, and the
// refusals: escapes of every kind, links out of the root, things that are
// not regular files, other methods.
func TestFileServerPaths(t *testing.T) {
	root, outside := fsTree(t)
	s := fsStart(t, root, nil)
	data, _ := os.ReadFile(filepath.Join(root, "data.bin"))
	c, br := svDial(t, s.addr)
	out := filepath.Base(outside)
	for _, tc := range []struct {
		method, target string
		status         int
		ctype, body    string
	}{
		{"GET", "/", 200, "text/html; charset=utf-8", "<h1>home</h1>"},
		{"GET", "/index.html", 200, "text/html; charset=utf-8", "<h1>home</h1>"},
		{"GET", "/style.css", 200, "text/css; charset=utf-8", "h1{}"},
		{"GET", "/style.css?v=1", 200, "text/css; charset=utf-8", "h1{}"},
		{"GET", "http://x/style.css", 200, "text/css; charset=utf-8", "h1{}"},
		{"GET", "/README", 200, "text/plain; charset=utf-8", "just some text\n"},
		{"GET", "/data.bin", 200, "application/octet-stream", string(data)},
		{"GET", "/link-in", 200, "text/css; charset=utf-8", "h1{}"},
		{"GET", "/rel-in", 200, "text/plain; charset=utf-8", "note"},
		{"GET", "/sub/note.txt", 200, "text/plain; charset=utf-8", "note"},
		{"GET", "//sub/./note.txt", 200, "text/plain; charset=utf-8", "note"},
		{"GET", "/%73ub/note%2etxt", 200, "text/plain; charset=utf-8", "note"},
		{"GET", "/a%20b/c%25d.txt", 200, "text/plain; charset=utf-8", "spaced"},
		{"GET", "/.hidden", 200, "application/octet-stream", "dot"},
		{"GET", "/empty.txt", 200, "text/plain; charset=utf-8", ""},
		{"GET", "/docs/", 200, "text/html; charset=utf-8", "docs"},
		{"GET", "/docs-link/", 200, "text/html; charset=utf-8", "docs"},
		{"GET", "/docs", 301, "", ""},
		{"GET", "/docs?x=1", 301, "", ""},
		{"GET", "/a%20b", 301, "", ""},
		{"HEAD", "/docs", 301, "", ""},
		{"GET", "/sub/", 403, "", ""},
		{"GET", "/fifo", 403, "", ""},
		{"GET", "/missing", 404, "", ""},
		{"GET", "/style.css/", 404, "", ""},
		{"GET", "/index.html/x", 404, "", ""},
		{"GET", "/loop", 404, "", ""},
		{"GET", "/link-out", 404, "", ""},
		{"GET", "/rel-out", 404, "", ""},
		{"GET", "/dir-out/secret", 404, "", ""},
		{"GET", "/sub/up-out/secret", 404, "", ""},
		{"GET", "/../" + out + "/secret", 400, "", ""},
		{"GET", "/../../../../../../etc/passwd", 400, "", ""},
		{"GET", "/%2e%2e/" + out + "/secret", 400, "", ""},
		{"GET", "/%2E%2E/%2e%2E/etc/passwd", 400, "", ""},
		{"GET", "/sub/..%2f..%2f" + out + "%2fsecret", 400, "", ""},
		{"GET", "/a%2fb", 400, "", ""},
		{"GET", "/sub%2Fnote.txt", 400, "", ""},
		{"GET", "/sub%5cnote.txt", 400, "", ""},
		{"GET", "/sub\\..\\index.html", 400, "", ""},
		{"GET", "/a%00b", 400, "", ""},
		{"GET", "/%zz", 400, "", ""},
		{"GET", "/a%", 400, "", ""},
		{"GET", "/sub/..", 400, "", ""},
		{"POST", "/index.html", 405, "", ""},
		{"DELETE", "/index.html", 405, "", ""},
		{"OPTIONS", "*", 405, "", ""},
		{"HEAD", "/data.bin", 200, "application/octet-stream", ""},
		{"HEAD", "/missing", 404, "", ""},
	} {
		fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", tc.method, tc.target)
		resp, body := svRead(t, br, tc.method)
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s: %v %.100q; want %d", tc.method, tc.target, resp.Status, body, tc.status)
			continue
		}
		switch tc.status {
		case 200:
			if got := resp.Header.Get("Content-Type"); got != tc.ctype {
				t.Errorf("%s: Content-Type %q, want %q", tc.target, got, tc.ctype)
			}
			if body != tc.body {
				t.Errorf("%s %s: %d bytes, want %d", tc.method, tc.target, len(body), len(tc.body))
			}
			want := int64(len(tc.body))
			if tc.method == "HEAD" {
				want = int64(len(data))
			}
			if resp.ContentLength != want || resp.Header.Get("ETag") == "" || resp.Header.Get("Last-Modified") == "" ||
				resp.Header.Get("Accept-Ranges") != "bytes" {
				t.Errorf("%s %s: length %d, head %v", tc.method, tc.target, resp.ContentLength, resp.Header)
			}
		case 301:
			want := strings.SplitN(tc.target, "?", 2)
			loc := want[0] + "/"
			if len(want) == 2 {
				loc += "?" + want[1]
			}
			if got := resp.Header.Get("Location"); got != loc {
				t.Errorf("%s: Location %q, want %q", tc.target, got, loc)
			}
		case 405:
			if got := resp.Header.Get("Allow"); got != "GET, HEAD" {
				t.Errorf("%s: Allow %q", tc.method, got)
			}
		}
		if tc.status >= 400 && tc.method == "GET" && !strings.HasPrefix(body, strconv.Itoa(tc.status)+" ") {
			t.Errorf("%s %s: body %q", tc.method, tc.target, body)
		}
	}
}

// TestFileServerConditional: the precondition matrix of RFC 9110
// §13.2.2, through net/http's client: which field wins, strong and weak
// comparison, lists, dates before, at and after the modification.
func TestFileServerConditional(t *testing.T) {
	root, _ := fsTree(t)
	mod := time.Date(2024, 5, 6, 7, 8, 9, 500_000_000, time.UTC)
	os.Chtimes(filepath.Join(root, "style.css"), mod, mod)
	s := fsStart(t, root, nil)
	url := "http://" + s.addr + "/style.css"
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	etag := resp.Header.Get("ETag")
	lastMod := resp.Header.Get("Last-Modified")
	if !strings.HasPrefix(etag, `"`) || lastMod != "Mon, 06 May 2024 07:08:09 GMT" {
		t.Fatalf("ETag %q, Last-Modified %q", etag, lastMod)
	}
	before := "Mon, 06 May 2024 07:08:08 GMT"
	after := "Mon, 06 May 2024 07:08:10 GMT"
	weak := "W/" + etag
	for _, tc := range []struct {
		name   string
		header []string // name, value pairs
		status int
	}{
		{"none", nil, 200},
		{"If-None-Match equal", []string{"If-None-Match", etag}, 304},
		{"If-None-Match weak", []string{"If-None-Match", weak}, 304},
		{"If-None-Match list", []string{"If-None-Match", `"a", ` + etag + `, "b"`}, 304},
		{"If-None-Match second field", []string{"If-None-Match", `"a"`, "If-None-Match", etag}, 304},
		{"If-None-Match star", []string{"If-None-Match", "*"}, 304},
		{"If-None-Match other", []string{"If-None-Match", `"other"`}, 200},
		{"If-None-Match malformed", []string{"If-None-Match", `abc`}, 200},
		{"If-Modified-Since equal", []string{"If-Modified-Since", lastMod}, 304},
		{"If-Modified-Since later", []string{"If-Modified-Since", after}, 304},
		{"If-Modified-Since earlier", []string{"If-Modified-Since", before}, 200},
		{"If-Modified-Since invalid", []string{"If-Modified-Since", "yesterday"}, 200},
		{"If-None-Match wins over If-Modified-Since", []string{"If-None-Match", `"other"`, "If-Modified-Since", after}, 200},
		{"If-None-Match wins, matching", []string{"If-None-Match", etag, "If-Modified-Since", before}, 304},
		{"If-Match equal", []string{"If-Match", etag}, 200},
		{"If-Match star", []string{"If-Match", "*"}, 200},
		{"If-Match other", []string{"If-Match", `"other"`}, 412},
		{"If-Match weak", []string{"If-Match", weak}, 412},
		{"If-Unmodified-Since later", []string{"If-Unmodified-Since", after}, 200},
		{"If-Unmodified-Since equal", []string{"If-Unmodified-Since", lastMod}, 200},
		{"If-Unmodified-Since earlier", []string{"If-Unmodified-Since", before}, 412},
		{"If-Match wins over If-Unmodified-Since", []string{"If-Match", etag, "If-Unmodified-Since", before}, 200},
		{"412 before 304", []string{"If-Match", `"other"`, "If-None-Match", etag}, 412},
		{"If-Match then If-None-Match", []string{"If-Match", etag, "If-None-Match", etag}, 304},
	} {
		req, _ := http.NewRequest("GET", url, nil)
		for i := 0; i < len(tc.header); i += 2 {
			req.Header.Add(tc.header[i], tc.header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s: %v, want %d", tc.name, resp.Status, tc.status)
			continue
		}
		switch tc.status {
		case 304:
			if len(body) != 0 || resp.Header.Get("ETag") != etag || resp.Header.Get("Content-Length") != "" {
				t.Errorf("%s: 304 with body %q, head %v", tc.name, body, resp.Header)
			}
		case 200:
			if string(body) != "h1{}" {
				t.Errorf("%s: body %q", tc.name, body)
			}
		}
	}
	// HEAD follows the same rules.
	req, _ := http.NewRequest("HEAD", url, nil)
	req.Header.Set("If-None-Match", etag)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 304 {
		t.Errorf("HEAD If-None-Match: %v, %v", resp, err)
	}
}

// TestFileServerRange: ranges as net/http's client sends them: single,
// suffix, open, clipped, unsatisfiable, ignored, If-Range, and multipart.
func TestFileServerRange(t *testing.T) {
	root, _ := fsTree(t)
	data, _ := os.ReadFile(filepath.Join(root, "data.bin"))
	size := int64(len(data))
	s := fsStart(t, root, &evhttp.FileServerConfig{MaxRanges: 4})
	url := "http://" + s.addr + "/data.bin"
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	etag, lastMod := resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
	type part struct{ start, end int64 }
	for _, tc := range []struct {
		name   string
		header []string
		status int
		parts  []part // the bytes expected, in order (nil: the whole file)
	}{
		{"first 100", []string{"Range", "bytes=0-99"}, 206, []part{{0, 99}}},
		{"last 100", []string{"Range", "bytes=-100"}, 206, []part{{size - 100, size - 1}}},
		{"from 1000", []string{"Range", "bytes=1000-"}, 206, []part{{1000, size - 1}}},
		{"clipped", []string{"Range", "bytes=100-99999999"}, 206, []part{{100, size - 1}}},
		{"suffix longer than the file", []string{"Range", "bytes=-99999999"}, 206, []part{{0, size - 1}}},
		{"last byte", []string{"Range", fmt.Sprintf("bytes=%d-%d", size-1, size-1)}, 206, []part{{size - 1, size - 1}}},
		{"unit case and spaces", []string{"Range", "Bytes=  5-9 "}, 206, []part{{5, 9}}},
		{"one satisfiable of two", []string{"Range", fmt.Sprintf("bytes=%d-, 10-19", size)}, 206, []part{{10, 19}}},
		{"unsatisfiable", []string{"Range", fmt.Sprintf("bytes=%d-", size)}, 416, nil},
		{"zero suffix", []string{"Range", "bytes=-0"}, 416, nil},
		{"bad syntax", []string{"Range", "bytes=9-5"}, 200, nil},
		{"no dash", []string{"Range", "bytes=5"}, 200, nil},
		{"other unit", []string{"Range", "items=0-5"}, 200, nil},
		{"empty set", []string{"Range", "bytes="}, 200, nil},
		{"If-Range etag", []string{"Range", "bytes=0-9", "If-Range", etag}, 206, []part{{0, 9}}},
		{"If-Range other etag", []string{"Range", "bytes=0-9", "If-Range", `"other"`}, 200, nil},
		{"If-Range weak etag", []string{"Range", "bytes=0-9", "If-Range", "W/" + etag}, 200, nil},
		{"If-Range date", []string{"Range", "bytes=0-9", "If-Range", lastMod}, 206, []part{{0, 9}}},
		{"If-Range other date", []string{"Range", "bytes=0-9", "If-Range", "Mon, 06 May 2024 07:08:09 GMT"}, 200, nil},
		{"If-Range without Range", []string{"If-Range", etag}, 200, nil},
		{"two ranges", []string{"Range", "bytes=0-9,-5"}, 206, []part{{0, 9}, {size - 5, size - 1}}},
		{"four ranges", []string{"Range", "bytes=0-0, 100-199, 50-59, 2000-"}, 206, []part{{0, 0}, {100, 199}, {50, 59}, {2000, size - 1}}},
		{"five ranges: too many", []string{"Range", "bytes=0-0,1-1,2-2,3-3,4-4"}, 200, nil},
		{"overlapping past the size", []string{"Range", "bytes=0-,0-"}, 200, nil},
		{"304 before the range", []string{"Range", "bytes=0-9", "If-None-Match", etag}, 304, nil},
	} {
		req, _ := http.NewRequest("GET", url, nil)
		for i := 0; i < len(tc.header); i += 2 {
			req.Header.Add(tc.header[i], tc.header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != tc.status {
			t.Errorf("%s: %v, %v; want %d", tc.name, resp.Status, err, tc.status)
			continue
		}
		switch {
		case tc.status == 200 && !bytes.Equal(body, data):
			t.Errorf("%s: 200 with %d bytes", tc.name, len(body))
		case tc.status == 416:
			if got := resp.Header.Get("Content-Range"); got != fmt.Sprintf("bytes */%d", size) {
				t.Errorf("%s: Content-Range %q", tc.name, got)
			}
		case tc.status == 206 && len(tc.parts) == 1:
			p := tc.parts[0]
			if got, want := resp.Header.Get("Content-Range"), fmt.Sprintf("bytes %d-%d/%d", p.start, p.end, size); got != want {
				t.Errorf("%s: Content-Range %q, want %q", tc.name, got, want)
			}
			if !bytes.Equal(body, data[p.start:p.end+1]) || resp.ContentLength != int64(len(body)) ||
				resp.Header.Get("Content-Type") != "application/octet-stream" {
				t.Errorf("%s: %d bytes (length %d), type %q", tc.name, len(body), resp.ContentLength, resp.Header.Get("Content-Type"))
			}
		case tc.status == 206:
			mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
			if err != nil || mt != "multipart/byteranges" || resp.ContentLength != int64(len(body)) {
				t.Errorf("%s: Content-Type %q (%v), length %d for %d bytes", tc.name, resp.Header.Get("Content-Type"), err, resp.ContentLength, len(body))
				continue
			}
			mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
			for i, p := range tc.parts {
				pt, err := mr.NextPart()
				if err != nil {
					t.Fatalf("%s: part %d: %v", tc.name, i, err)
				}
				got, _ := io.ReadAll(pt)
				if cr := pt.Header.Get("Content-Range"); cr != fmt.Sprintf("bytes %d-%d/%d", p.start, p.end, size) ||
					pt.Header.Get("Content-Type") != "application/octet-stream" || !bytes.Equal(got, data[p.start:p.end+1]) {
					t.Errorf("%s: part %d: %q, %d bytes", tc.name, i, cr, len(got))
				}
			}
			if _, err := mr.NextPart(); err != io.EOF {
				t.Errorf("%s: after the parts: %v", tc.name, err)
			}
		}
	}
	// HEAD ignores Range (RFC 9110 §14.2: GET only).
	resp, _ = fsGet(t, s.addr, "HEAD", "/data.bin", "Range: bytes=0-9\r\n")
	if resp.StatusCode != 200 || resp.ContentLength != size {
		t.Errorf("HEAD with Range: %v, length %d", resp.Status, resp.ContentLength)
	}
	// The empty file has no satisfiable range.
	resp, _ = fsGet(t, s.addr, "GET", "/empty.txt", "Range: bytes=0-\r\n")
	if resp.StatusCode != 416 || resp.Header.Get("Content-Range") != "bytes */0" {
		t.Errorf("empty file with a range: %v, %q", resp.Status, resp.Header.Get("Content-Range"))
	}
}
