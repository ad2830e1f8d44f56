package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eddyloop/eddy/internal/testutil"
)

// The get tests run "eddy get" in-process against an httptest server on
// loopback, with literal addresses only: no name is resolved, so neither
// resolv.conf nor the hosts file is read.

// getRun runs "eddy get args..." and returns its status and output.
func getRun(args ...string) (status int, stdout, stderr string) {
	var o, e bytes.Buffer
	status = dispatch(append([]string{"get"}, args...), &o, &e)
	return status, o.String(), e.String()
}

// getBig is the body of /big: 3 MiB, larger than evnet's read buffer and
// the client's pieces many times over.
var getBig = bytes.Repeat([]byte("0123456789abcdef"), 3<<20/16)

func getServer(t *testing.T) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("X-Test", "yes")
		io.WriteString(w, "Hello, World!\n")
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		for off := 0; off < len(getBig); off += 64 << 10 { // chunked, flushed as it goes
			w.Write(getBig[off:min(len(getBig), off+64<<10)])
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/missing", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no such thing", http.StatusNotFound)
	})
	mux.HandleFunc("/fail", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "broken", http.StatusInternalServerError)
	})
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/hello", http.StatusMovedPermanently)
	})
	mux.HandleFunc("/notmodified", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotModified)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestGet(t *testing.T) {
	srv := getServer(t)
	for _, tt := range []struct {
		path   string
		status int
		out    string
	}{
		{"/hello", 0, "Hello, World!\n"},
		{"/moved", 0, "Hello, World!\n"},
		{"/notmodified", 0, ""},
		{"/missing", 1, "no such thing\n"},
		{"/fail", 1, "broken\n"},
	} {
		st, out, errOut := getRun(srv.URL + tt.path)
		if st != tt.status || out != tt.out || errOut != "" {
			t.Errorf("%s: status %d, stdout %q, stderr %q; want %d, %q", tt.path, st, out, errOut, tt.status, tt.out)
		}
	}
	st, out, _ := getRun(srv.URL + "/big")
	if st != 0 || out != string(getBig) {
		t.Errorf("/big: status %d, %d bytes", st, len(out))
	}
}

func TestGetVerbose(t *testing.T) {
	srv := getServer(t)
	st, out, errOut := getRun("-v", srv.URL+"/hello")
	if st != 0 || out != "Hello, World!\n" {
		t.Fatalf("status %d, stdout %q", st, out)
	}
	lines := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n")
	if lines[0] != "HTTP/1.1 200 OK" {
		t.Errorf("first line %q, want the status line", lines[0])
	}
	for _, want := range []string{"Content-Type: text/plain", "X-Test: yes", "Content-Length: 14"} {
		found := false
		for _, l := range lines[1:] {
			found = found || l == want
		}
		if !found {
			t.Errorf("-v output lacks %q:\n%s", want, errOut)
		}
	}
	// The final response's head, after a redirect.
	if st, out, errOut := getRun("-v", srv.URL+"/moved"); st != 0 || out != "Hello, World!\n" || !strings.HasPrefix(errOut, "HTTP/1.1 200 OK\n") {
		t.Errorf("redirect: status %d, stdout %q, stderr %q", st, out, errOut)
	}
	if st, _, errOut := getRun("-v", srv.URL+"/missing"); st != 1 || !strings.HasPrefix(errOut, "HTTP/1.1 404 Not Found\n") {
		t.Errorf("404: status %d, stderr %q", st, errOut)
	}
}

func TestGetOutputFile(t *testing.T) {
	srv := getServer(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "big.out")
	st, out, errOut := getRun("-o", path, srv.URL+"/big")
	if st != 0 || out != "" || errOut != "" {
		t.Fatalf("status %d, stdout %q, stderr %q", st, out, errOut)
	}
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, getBig) {
		t.Fatalf("file: %v, %d bytes, want %d", err, len(got), len(getBig))
	}
	// -v and -o together: the head on stderr, the body in the file.
	path = filepath.Join(dir, "hello.out")
	st, out, errOut = getRun("-v", "-o", path, srv.URL+"/hello")
	got, _ = os.ReadFile(path)
	if st != 0 || out != "" || string(got) != "Hello, World!\n" || !strings.HasPrefix(errOut, "HTTP/1.1 200 OK\n") {
		t.Errorf("-v -o: status %d, stdout %q, file %q, stderr %q", st, out, got, errOut)
	}
	// A file that cannot be created.
	if st, _, errOut := getRun("-o", filepath.Join(dir, "no", "such", "dir"), srv.URL+"/hello"); st != 2 || !strings.HasPrefix(errOut, "eddy get: ") {
		t.Errorf("bad -o: status %d, stderr %q", st, errOut)
	}
}

func TestGetErrors(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()

	// A server that ends the body early.
	short, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := short.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		if _, err := http.ReadRequest(bufio.NewReader(c)); err == nil {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this")
		}
	}()
	t.Cleanup(func() { short.Close(); <-done })

	for _, tt := range []struct {
		name string
		args []string
		out  string // on stdout
		msg  string // in stderr
	}{
		{"refused", []string{"http://" + dead + "/"}, "", "could not connect to " + dead},
		{"scheme", []string{"ftp://example.com/"}, "", "unsupported URL scheme"},
		{"bad-url", []string{"not a url"}, "", "invalid URL"},
		{"truncated", []string{"http://" + short.Addr().String() + "/"}, "only this", "connection closed before the response was complete"},
	} {
		st, out, errOut := getRun(tt.args...)
		if st != 2 || out != tt.out || !strings.HasPrefix(errOut, "eddy get: ") || !strings.Contains(errOut, tt.msg) {
			t.Errorf("%s: status %d, stdout %q, stderr %q; want 2 and %q", tt.name, st, out, errOut, tt.msg)
		}
	}
	for _, args := range [][]string{{}, {"a", "b"}, {"-bogus", "http://127.0.0.1/"}} {
		if st, _, errOut := getRun(args...); st != 2 || !strings.Contains(errOut, "usage: eddy get") {
			t.Errorf("%q: status %d, stderr %q", args, st, errOut)
		}
	}
	if st, _, errOut := getRun("-h"); st != 0 || !strings.Contains(errOut, "usage: eddy get [-v] [-o FILE] [-cacert FILE | -insecure] URL") {
		t.Errorf("-h: status %d, stderr %q", st, errOut)
	}
}

// TestGetBinary runs the built command, for its real exit status and
// output streams.
func TestGetBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build with")
	}
	srv := getServer(t)
	bin := filepath.Join(t.TempDir(), "eddy")
	if out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, tt := range []struct {
		url    string
		status int
		out    string
	}{
		{srv.URL + "/hello", 0, "Hello, World!\n"},
		{srv.URL + "/missing", 1, "no such thing\n"},
		{"https://example.com/", 2, ""},
	} {
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(bin, "get", tt.url)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != tt.status || stdout.String() != tt.out {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want %d, %q", tt.url, code, stdout.String(), stderr.String(), tt.status, tt.out)
		}
	}
}

// TestGetHTTPS: https with -cacert, -insecure, and without either against
// a certificate the system does not trust (exit 2 with the reason).
func TestGetHTTPS(t *testing.T) {
	pki := testutil.TestPKI(t)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "Hello over "+tls.VersionName(r.TLS.Version)+"\n")
	}))
	srv.TLS = pki.ServerConfig()
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake
	srv.StartTLS()
	t.Cleanup(srv.Close)
	_, _, ca := pki.Files(t)

	if status, out, errOut := getRun("-cacert", ca, srv.URL+"/"); status != 0 || out != "Hello over TLS 1.3\n" {
		t.Errorf("-cacert: status %d, %q, %q", status, out, errOut)
	}
	if status, out, errOut := getRun("-insecure", srv.URL+"/"); status != 0 || out != "Hello over TLS 1.3\n" {
		t.Errorf("-insecure: status %d, %q, %q", status, out, errOut)
	}
	status, out, errOut := getRun(srv.URL + "/")
	if status != 2 || out != "" || !strings.Contains(errOut, "certificate signed by unknown authority") {
		t.Errorf("unverified: status %d, %q, %q", status, out, errOut)
	}
	for _, args := range [][]string{
		{"-cacert", ca, "-insecure", srv.URL},
		{"-cacert", filepath.Join(t.TempDir(), "none.pem"), srv.URL},
		{"-cacert", os.Args[0], srv.URL}, // no PEM in it
	} {
		if status, _, errOut := getRun(args...); status != 2 || !strings.Contains(errOut, "-cacert") {
			t.Errorf("%q: status %d, %q", args, status, errOut)
		}
	}
}
