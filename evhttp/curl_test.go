package evhttp_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyloop/eddy/evhttp"
	"github.com/eddyloop/eddy/evnet"
	"github.com/eddyloop/eddy/internal/testutil"
)

// Tests against curl, a client with habits of its own (it waits for 100
// Continue before large uploads, reuses connections across URLs). test.sh
// installs it; without it the tests are skipped, and fail when CI is set
// (testutil.NeedPeer).

// runCurl runs curl with args and returns its stdout and stderr.
func runCurl(t *testing.T, curl string, args ...string) (string, string) {
	t.Helper()
	cmd := exec.Command(curl, append([]string{"-sS", "--max-time", "20"}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("curl %q: %v\n%s", args, err, stderr.String())
	}
	return stdout.String(), stderr.String()
}

func TestCurl(t *testing.T) {
	curl := testutil.NeedPeer(t, "curl", "curl")
	var opened atomic.Int64
	s := svStart(t, &evhttp.Server{
		MaxBodyBytes: 64 << 20,
		ConnState: func(c *evnet.Conn, st evhttp.ConnState) {
			if st == evhttp.StateNew {
				opened.Add(1)
			}
		},
	})
	url := "http://" + s.addr

	t.Run("HTTP/1.0", func(t *testing.T) {
		out, _ := runCurl(t, curl, "-0", "-i", url+"/hello")
		if !strings.HasPrefix(out, "HTTP/1.0 200 OK\r\n") || !strings.HasSuffix(out, "\r\n\r\nHello, World!") ||
			!strings.Contains(out, "Connection: close\r\n") {
			t.Errorf("%q", out)
		}
	})

	t.Run("HTTP/1.1 keep-alive", func(t *testing.T) {
		before := opened.Load()
		out, errOut := runCurl(t, curl, "-v", url+"/path/one", url+"/path/two")
		if out != "/path/one/path/two" {
			t.Errorf("%q", out)
		}
		if n := opened.Load() - before; n != 1 {
			t.Errorf("%d connections for two URLs, want 1\n%s", n, errOut)
		}
		if !strings.Contains(errOut, "< HTTP/1.1 200 OK") {
			t.Errorf("no HTTP/1.1 response in\n%s", errOut)
		}
	})

	dir := t.TempDir()
	file := filepath.Join(dir, "upload")
	data := svPattern(5 << 20)
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}

	t.Run("chunked upload", func(t *testing.T) {
		out, _ := runCurl(t, curl, "-H", "Transfer-Encoding: chunked", "--data-binary", "@"+file, url+"/sum")
		if out != svSum(data) {
			t.Errorf("%q, want %q", out, svSum(data))
		}
		out, _ = runCurl(t, curl, "-H", "Transfer-Encoding: chunked", "--data-binary", "@"+file, url+"/echo", "-o", filepath.Join(dir, "echoed"))
		if got, err := os.ReadFile(filepath.Join(dir, "echoed")); err != nil || !bytes.Equal(got, data) {
			t.Errorf("echo: %d bytes back of %d, %v", len(got), len(data), err)
		}
	})

	t.Run("100-continue", func(t *testing.T) {
		// curl waits --expect100-timeout for the 100 before it sends the
		// body anyway: the upload is quick only if the server sent it.
		start := time.Now()
		out, errOut := runCurl(t, curl, "-v", "--expect100-timeout", "10", "-H", "Expect: 100-continue",
			"--data-binary", "@"+file, url+"/sum")
		if out != svSum(data) {
			t.Errorf("%q, want %q", out, svSum(data))
		}
		if !strings.Contains(errOut, "< HTTP/1.1 100 Continue") {
			t.Errorf("no 100 Continue in\n%s", errOut)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("the upload took %v: curl waited for the 100", d)
		}
		// Refused without reading: no 100, and curl does not send the body.
		out, errOut = runCurl(t, curl, "-v", "--expect100-timeout", "10", "-H", "Expect: 100-continue",
			"--data-binary", "@"+file, url+"/reject")
		if out != "no" || strings.Contains(errOut, "100 Continue") {
			t.Errorf("%q\n%s", out, errOut)
		}
	})
}
