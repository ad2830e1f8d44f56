package evclient_test

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evhttp/evclient"
	"github.com/eddyloop/eddy/internal/testutil"
)

// The nginx tests run the client against a real server: nginx (Debian
// package nginx-light), started by the test on 127.0.0.1 with a random
// port, a prefix in a temporary directory and a configuration written
// there, serving a small and a large static file, with a short
// keepalive_timeout so that nginx closes idle connections during the test.
// Without nginx they are skipped, or fail when CI is set
// (testutil.NeedPeer).

const nginxConf = `# written by the evclient tests
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path %[1]s/tmp/body;
	proxy_temp_path %[1]s/tmp/proxy;
	fastcgi_temp_path %[1]s/tmp/fastcgi;
	uwsgi_temp_path %[1]s/tmp/uwsgi;
	scgi_temp_path %[1]s/tmp/scgi;
	keepalive_timeout 1s;
	default_type application/octet-stream;
	server {
		listen 127.0.0.1:%[2]d%[3]s;
		root %[1]s/www;
		location / { }
	}
}
`

// startNginx starts nginx serving the files given (name to contents)
// and returns its base URL; it is stopped when the test ends.
func startNginx(t *testing.T, files map[string][]byte) string {
	t.Helper()
	return startNginxWith(t, files, false)
}

// startNginxWith is startNginx, over TLS (with the test PKI's server
// certificate, TLS 1.2 and 1.3) when tls is set.
func startNginxWith(t *testing.T, files map[string][]byte, tls bool) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{"www", "tmp", "logs"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, "www", name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	listen, scheme := "", "http://"
	if tls {
		cert, key, _ := testutil.TestPKI(t).Files(t)
		listen = " ssl; ssl_protocols TLSv1.2 TLSv1.3; ssl_certificate " + cert + "; ssl_certificate_key " + key
		scheme = "https://"
	}
	return scheme + testutil.StartNginx(t, dir, func(port int) []byte {
		return fmt.Appendf(nil, nginxConf, dir, port, listen)
	})
}

func TestClientNginx(t *testing.T) {
	leakCheck(t)
	small := []byte("Hello from nginx!\n")
	large := pattern(12<<20+12345, 11)
	base := startNginx(t, map[string][]byte{"small.txt": small, "large.bin": large})
	rl := startLoop(t)
	c := newClient(t, rl, nil)

	resp := mustGet(t, rl, c, base+"/small.txt")
	if resp.Status != 200 || !bytes.Equal(resp.Body, small) || resp.Header("Server") == "" {
		t.Fatalf("small: %d %q, Server %q", resp.Status, resp.Body, resp.Header("Server"))
	}
	resp, err := doReq(t, rl, c, &evclient.Request{Method: "HEAD", URL: base + "/large.bin"})
	if err != nil || resp.ContentLength != int64(len(large)) || len(resp.Body) != 0 {
		t.Fatalf("HEAD: %v %+v", err, resp)
	}
	resp = mustGet(t, rl, c, base+"/missing")
	if resp.Status != 404 {
		t.Errorf("missing: %d", resp.Status)
	}
	resp = mustGet(t, rl, c, base+"/large.bin")
	if !bytes.Equal(resp.Body, large) {
		t.Fatalf("large, gathered: %d bytes", len(resp.Body))
	}
	if st := stats(rl, c); st.Dials != 1 || st.Reused != 3 {
		t.Errorf("keep-alive: %+v", st)
	}

	// The large file streamed, with pauses: nginx is slowed down.
	var got bytes.Buffer
	var pauses int
	var resume eddy.Timer
	ch := make(chan error, 1)
	rl.Post(func() {
		var call *evclient.Call
		resume.Init(func(*eddy.Timer) { call.ResumeRead() }, time.Millisecond, 0)
		call = c.Stream(&evclient.Request{URL: base + "/large.bin"}, evclient.Handler{
			OnBody: func(call *evclient.Call, p []byte) {
				before := got.Len()
				got.Write(p)
				if got.Len()/(1<<20) != before/(1<<20) {
					pauses++
					call.PauseRead()
					resume.Start(rl.Loop)
				}
			},
			OnDone: func(_ *evclient.Call, err error) { resume.Stop(); ch <- err },
		})
	})
	if err := <-ch; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), large) || pauses < 10 {
		t.Fatalf("large, streamed: %d bytes, %d pauses", got.Len(), pauses)
	}

	// nginx closes the idle connection after keepalive_timeout (1s): the
	// client sees it and drops it; the next request goes on a new one and
	// no error shows.
	if !testutil.Eventually(5*time.Second, func() bool { return stats(rl, c).Open == 0 }) {
		t.Fatalf("nginx's idle close not seen: %+v", stats(rl, c))
	}
	resp = mustGet(t, rl, c, base+"/small.txt")
	if !bytes.Equal(resp.Body, small) {
		t.Errorf("after idle close: %q", resp.Body)
	}
	if st := stats(rl, c); st.Dials != 2 || st.Retries != 0 {
		t.Errorf("after idle close: %+v", st)
	}

	// Several at once, on several connections, with pipelining too.
	for _, cfg := range []evclient.Config{{MaxConnsPerHost: 3}, {MaxConnsPerHost: 2, Pipelining: true}} {
		c := newClient(t, rl, &cfg)
		const n = 20
		results := make(chan error, n)
		rl.Post(func() {
			for i := range n {
				url := base + "/small.txt"
				if i%5 == 0 {
					url = base + "/large.bin"
				}
				c.Get(url, func(resp *evclient.Response, err error) {
					if err == nil && (i%5 == 0 && !bytes.Equal(resp.Body, large) || i%5 != 0 && !bytes.Equal(resp.Body, small)) {
						err = fmt.Errorf("request %d: wrong body (%d bytes)", i, len(resp.Body))
					}
					results <- err
				})
			}
		})
		for range n {
			if err := <-results; err != nil {
				t.Fatalf("%+v: %v", cfg, err)
			}
		}
		// A connection nginx closes (keepalive_timeout) just as a request
		// goes out on it costs a retry on a new one: one dial more.
		if st := stats(rl, c); st.Dials > uint64(cfg.MaxConnsPerHost)+st.Retries || st.Open > cfg.MaxConnsPerHost || cfg.Pipelining && st.Pipelined == 0 {
			t.Errorf("%+v: %+v", cfg, st)
		}
	}
}

// TestClientNginxTLS: https against nginx (OpenSSL): a small and a large
// file on one connection, TLS 1.2 and 1.3, resumption after a close.
func TestClientNginxTLS(t *testing.T) {
	leakCheck(t)
	small := []byte("Hello from nginx over TLS!\n")
	large := pattern(6<<20+7, 13)
	base := startNginxWith(t, map[string][]byte{"small.txt": small, "large.bin": large}, true)
	rl := startLoop(t)
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		c := newClient(t, rl, &evclient.Config{TLS: &tls.Config{RootCAs: testutil.TestPKI(t).CAPool, MinVersion: v, MaxVersion: v}})
		for range 2 {
			if resp := mustGet(t, rl, c, base+"/small.txt"); resp.Status != 200 || !bytes.Equal(resp.Body, small) {
				t.Fatalf("%s small: %d %q", tls.VersionName(v), resp.Status, resp.Body)
			}
			if resp := mustGet(t, rl, c, base+"/large.bin"); resp.Status != 200 || !bytes.Equal(resp.Body, large) {
				t.Fatalf("%s large: %d, %d bytes", tls.VersionName(v), resp.Status, len(resp.Body))
			}
			rl.Do(c.CloseIdle)
		}
		if s := stats(rl, c); s.Dials != 2 {
			t.Errorf("%s: %d dials, want 2", tls.VersionName(v), s.Dials)
		}
	}
}
