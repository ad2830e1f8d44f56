package evhttp_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evhttp"
	"github.com/eddyloop/eddy/evnet"
	"github.com/eddyloop/eddy/internal/testutil"
)

// TestFileServerCurl: curl's ranges, conditional requests and HTTP/1.0
// against FileServer.
func TestFileServerCurl(t *testing.T) {
	curl := testutil.NeedPeer(t, "curl", "curl")
	root, _ := fsTree(t)
	data, _ := os.ReadFile(filepath.Join(root, "data.bin"))
	mod := time.Date(2023, 1, 2, 3, 4, 5, 0, time.UTC)
	os.Chtimes(filepath.Join(root, "data.bin"), mod, mod)
	s := fsStart(t, root, nil)
	url := "http://" + s.addr + "/data.bin"

	out, _ := runCurl(t, curl, "-r", "0-99", url)
	if out != string(data[:100]) {
		t.Errorf("-r 0-99: %d bytes", len(out))
	}
	out, _ = runCurl(t, curl, "-r", "-100", url)
	if out != string(data[len(data)-100:]) {
		t.Errorf("-r -100: %d bytes", len(out))
	}
	out, _ = runCurl(t, curl, "-r", "100-", url)
	if out != string(data[100:]) {
		t.Errorf("-r 100-: %d bytes", len(out))
	}
	out, _ = runCurl(t, curl, "-r", "0-0,-1", "-i", url)
	if !strings.Contains(out, "Content-Type: multipart/byteranges; boundary=") {
		t.Errorf("-r 0-0,-1: %.300q", out)
	}

	head, _ := runCurl(t, curl, "-sI", url)
	etag := ""
	for line := range strings.SplitSeq(head, "\r\n") {
		if v, ok := strings.CutPrefix(line, "ETag: "); ok {
			etag = v
		}
	}
	if etag == "" || !strings.Contains(head, "Last-Modified: Mon, 02 Jan 2023 03:04:05 GMT") {
		t.Fatalf("HEAD: %q", head)
	}
	out, _ = runCurl(t, curl, "-o", "/dev/null", "-w", "%{http_code}", "-H", "If-None-Match: "+etag, url)
	if out != "304" {
		t.Errorf("If-None-Match: %q", out)
	}
	out, _ = runCurl(t, curl, "-o", "/dev/null", "-w", "%{http_code}", "-z", "Mon, 02 Jan 2023 03:04:05 GMT", url)
	if out != "304" {
		t.Errorf("-z the modification time: %q", out)
	}
	out, _ = runCurl(t, curl, "-w", "%{http_code}", "-z", "Sun, 01 Jan 2023 00:00:00 GMT", url)
	if out != string(data)+"200" {
		t.Errorf("-z a day before: %d bytes", len(out))
	}
	out, _ = runCurl(t, curl, "--http1.0", "-i", "http://"+s.addr+"/style.css")
	if !strings.HasPrefix(out, "HTTP/1.0 200 OK\r\n") || !strings.HasSuffix(out, "\r\n\r\nh1{}") ||
		!strings.Contains(out, "Content-Length: 4\r\n") {
		t.Errorf("--http1.0: %q", out)
	}
	out, _ = runCurl(t, curl, "--http1.0", "-r", "2-3", "http://"+s.addr+"/style.css")
	if out != "{}" {
		t.Errorf("--http1.0 -r 2-3: %q", out)
	}
	// Escapes, as curl sends them when told not to normalize.
	for _, target := range []string{"/../etc/passwd", "/%2e%2e/etc/passwd", "/a%2fb"} {
		out, _ = runCurl(t, curl, "--path-as-is", "-o", "/dev/null", "-w", "%{http_code}", "http://"+s.addr+target)
		if out != "400" {
			t.Errorf("%s: %s", target, out)
		}
	}
}

// TestFileServerLarge: a 64 MiB file (sparse, with a marker every MiB)
// to a client that reads slowly arrives whole, while the server's memory
// does not grow with it: the body never passes through the process.
func TestFileServerLarge(t *testing.T) {
	const size = 64 << 20
	root := t.TempDir()
	f, err := os.Create(filepath.Join(root, "big.iso"))
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(size)
	for off := int64(0); off < size; off += 1 << 20 {
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], uint64(off))
		f.WriteAt(b[:], off+777)
	}
	f.Close()
	s := fsStart(t, root, nil)
	c, br := svDial(t, s.addr)
	c.SetDeadline(time.Now().Add(60 * time.Second))
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fmt.Fprintf(c, "GET /big.iso HTTP/1.1\r\nHost: x\r\n\r\nGET /big.iso HTTP/1.1\r\nHost: x\r\nRange: bytes=-10\r\n\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 200 || resp.ContentLength != size {
		t.Fatalf("%v, %v", resp, err)
	}
	buf := make([]byte, 1<<20)
	for got := int64(0); got < size; got += int64(len(buf)) {
		if _, err := io.ReadFull(resp.Body, buf); err != nil {
			t.Fatalf("at %d: %v", got, err)
		}
		if m := binary.BigEndian.Uint64(buf[777:]); m != uint64(got) {
			t.Fatalf("marker at %d reads %d", got+777, m)
		}
		if got%(8<<20) == 0 {
			// Pacing, not waiting: a slow reader, whose socket the
			// server's sendfile finds full now and then.
			time.Sleep(20 * time.Millisecond)
		}
	}
	// The pipelined range request waited behind it.
	resp, body := svRead(t, br, "GET")
	if resp.StatusCode != 206 || len(body) != 10 {
		t.Errorf("the range after the large response: %v, %d bytes", resp.Status, len(body))
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 16<<20 {
		t.Errorf("%d MiB allocated to serve a 64 MiB file", grew>>20)
	}
}

// TestFileServerPipelined: pipelined requests answered out of order
// (a cached file at once, the others after the work pool) leave in
// order; the regions of the early ones wait with their heads.
func TestFileServerPipelined(t *testing.T) {
	root, _ := fsTree(t)
	data, _ := os.ReadFile(filepath.Join(root, "data.bin"))
	s := fsStart(t, root, nil)
	c, br := svDial(t, s.addr)
	var req bytes.Buffer
	targets := []string{"/sub/note.txt", "/data.bin", "/missing", "/style.css", "/data.bin", "/docs"}
	// Cache two of them first.
	for _, target := range []string{"/data.bin", "/style.css"} {
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", target)
		svRead(t, br, "GET")
	}
	for _, target := range targets {
		fmt.Fprintf(&req, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", target)
	}
	c.Write(req.Bytes())
	for _, target := range targets {
		resp, body := svRead(t, br, "GET")
		ok := false
		switch target {
		case "/sub/note.txt":
			ok = body == "note"
		case "/data.bin":
			ok = body == string(data)
		case "/missing":
			ok = resp.StatusCode == 404
		case "/style.css":
			ok = body == "h1{}"
		case "/docs":
			ok = resp.StatusCode == 301
		}
		if !ok {
			t.Errorf("%s: %v, %d bytes", target, resp.Status, len(body))
		}
	}
}

// TestFileServerCache: a cached file is served as it was for CacheTTL,
// then looked up again; with a negative CacheTTL every request sees the
// file as it is. The cache's files are closed when the loop closes.
func TestFileServerCache(t *testing.T) {
	root := t.TempDir()
	path := filepath.Join(root, "f.txt")
	write := func(s string) {
		t.Helper()
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	write("one")
	get := func(s *svServer) string {
		t.Helper()
		_, body := fsGet(t, s.addr, "GET", "/f.txt")
		return body
	}

	cached := fsStart(t, root, &evhttp.FileServerConfig{CacheTTL: 300 * time.Millisecond})
	uncached := fsStart(t, root, &evhttp.FileServerConfig{CacheTTL: -1})
	if a, b := get(cached), get(uncached); a != "one" || b != "one" {
		t.Fatalf("%q, %q", a, b)
	}
	write("two!")
	if a, b := get(cached), get(uncached); a != "one" || b != "two!" {
		t.Errorf("just after the change: cached %q, uncached %q", a, b)
	}
	if !testutil.Eventually(5*time.Second, func() bool { return get(cached) == "two!" }) {
		t.Errorf("the cache still serves %q", get(cached))
	}
	// The old file was closed when its entry expired.
	isOpen := func() bool {
		for _, fd := range testutil.OpenFds() {
			if strings.HasSuffix(fd, "(deleted)") && strings.Contains(fd, root) {
				return true
			}
		}
		return false
	}
	if !testutil.Eventually(5*time.Second, func() bool { return !isOpen() }) {
		t.Errorf("the replaced file is still open: %v", testutil.OpenFds())
	}
}

// TestFileServerCacheLimit: the cache of a loop holds at most CacheSize
// files, and closes the oldest to make room.
func TestFileServerCacheLimit(t *testing.T) {
	root := t.TempDir()
	for i := range 10 {
		os.WriteFile(filepath.Join(root, fmt.Sprintf("%d.txt", i)), []byte{byte('0' + i)}, 0o644)
	}
	countOpen := func() int {
		n := 0
		for _, fd := range testutil.OpenFds() {
			if strings.Contains(fd, root) {
				n++
			}
		}
		return n
	}
	s := fsStart(t, root, &evhttp.FileServerConfig{CacheSize: 3, CacheTTL: time.Hour})
	c, br := svDial(t, s.addr)
	for i := range 10 {
		fmt.Fprintf(c, "GET /%d.txt HTTP/1.1\r\nHost: x\r\n\r\n", i)
		if _, body := svRead(t, br, "GET"); body != string(rune('0'+i)) {
			t.Fatalf("%d: %q", i, body)
		}
	}
	if n := countOpen(); n != 3 {
		t.Errorf("%d files open, want 3", n)
	}
}

// TestFileServerRootLater: a root that does not exist yet answers 404,
// and is served once it does.
func TestFileServerRootLater(t *testing.T) {
	root := filepath.Join(t.TempDir(), "later")
	s := fsStart(t, root, nil)
	if resp, _ := fsGet(t, s.addr, "GET", "/x.txt"); resp.StatusCode != 404 {
		t.Errorf("no root: %v", resp.Status)
	}
	os.Mkdir(root, 0o755)
	os.WriteFile(filepath.Join(root, "x.txt"), []byte("x"), 0o644)
	if resp, body := fsGet(t, s.addr, "GET", "/x.txt"); resp.StatusCode != 200 || body != "x" {
		t.Errorf("root made: %v %q", resp.Status, body)
	}
}

// TestFileServerClientGone: a client that leaves while its file is being
// opened, or in the middle of a large file, leaves no file open.
func TestFileServerClientGone(t *testing.T) {
	root := t.TempDir()
	big := filepath.Join(root, "big.bin")
	f, _ := os.Create(big)
	f.Truncate(32 << 20)
	f.Close()
	s := fsStart(t, root, &evhttp.FileServerConfig{CacheTTL: -1})
	for range 5 {
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
		br := bufio.NewReader(c)
		br.ReadString('\n')
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
	}
	for range 5 {
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
		c.Close()
	}
	if !testutil.Eventually(10*time.Second, func() bool {
		for _, fd := range testutil.OpenFds() {
			if strings.HasSuffix(fd, big) {
				return false
			}
		}
		return true
	}) {
		t.Errorf("the file is still open: %v", testutil.OpenFds())
	}
}

// TestFileServerGroup: one FileServer on the loops of a group, each loop
// with its own cache, over TCP and a Unix socket; once the group is shut
// down, no file is left open.
func TestFileServerGroup(t *testing.T) {
	root, _ := fsTree(t)
	data, _ := os.ReadFile(filepath.Join(root, "data.bin"))
	g, err := evnet.NewGroup(&evnet.GroupConfig{Loops: 2, Loop: eddy.Config{Debug: true}})
	if err != nil {
		t.Fatal(err)
	}
	srv := &evhttp.Server{Handler: evhttp.FileServer(root, &evhttp.FileServerConfig{CacheTTL: time.Hour})}
	ln, err := srv.ServeGroup(g, "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "http.sock")
	if _, err := srv.ServeGroup(g, "unix", sock); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 16 {
		wg.Go(func() {
			network, addr := "tcp", ln.Addr().String()
			if i%2 == 1 {
				network, addr = "unix", sock
			}
			c, err := net.Dial(network, addr)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(20 * time.Second))
			br := bufio.NewReader(c)
			for _, target := range []string{"/data.bin", "/style.css", "/data.bin"} {
				fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\nRange: bytes=%d-\r\n\r\n", target, i)
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					errs <- err
					return
				}
				body, err := io.ReadAll(resp.Body)
				want := data[i:]
				if target == "/style.css" {
					want = []byte("h1{}")[min(i, 4):]
				}
				if err != nil || (resp.StatusCode != 206 && resp.StatusCode != 416) || resp.StatusCode == 206 && !bytes.Equal(body, want) {
					errs <- fmt.Errorf("%s %s from %d: %v, %d bytes, %v", network, target, i, resp.Status, len(body), err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Error(err)
	}
	if err := g.Shutdown(time.Second); err != nil {
		t.Error(err)
	}
	for _, fd := range testutil.OpenFds() {
		if strings.Contains(fd, root) {
			t.Errorf("still open after the group's shutdown: %s", fd)
		}
	}
}
