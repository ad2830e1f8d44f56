package evhttp_test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"io"
	"os"
	"path/filepath"

	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/eddyloop/eddy/evhttp"
	"github.com/eddyloop/eddy/evnet"
	"github.com/eddyloop/eddy/internal/testutil"
)

// HTTPS: the server over evnet's TLS layer, with no TLS code of its own
// but the ALPN defaults and the answer to plain HTTP on the TLS port.

// tlsServer serves srv over TLS with the test PKI's certificate.
func tlsServer(t *testing.T, srv *evhttp.Server) *svServer {
	t.Helper()
	srv.ListenConfig.TLS = &evnet.TLSConfig{Config: testutil.TestPKI(t).ServerConfig()}
	return svStart(t, srv)
}

// tlsClient is svClient trusting the test PKI, offering http/1.1 by ALPN
// (net/http offers nothing with a TLSClientConfig of one's own).
func tlsClient(t *testing.T) *http.Client {
	c := svClient(t)
	cfg := testutil.TestPKI(t).ClientConfig()
	cfg.NextProtos = []string{"http/1.1"}
	c.Transport.(*http.Transport).TLSClientConfig = cfg
	return c
}

func TestTLSServe(t *testing.T) {
	s := tlsServer(t, &evhttp.Server{MaxBodyBytes: 64 << 20})
	c := tlsClient(t)
	url := "https://" + s.addr
	for i := range 3 {
		req, _ := http.NewRequest("GET", url+"/hello", nil)
		resp, body, reused := svDo(t, c, req)
		if resp.StatusCode != 200 || string(body) != "Hello, World!" {
			t.Fatalf("GET: %v %q", resp.Status, body)
		}
		if resp.TLS == nil || resp.TLS.NegotiatedProtocol != "http/1.1" {
			t.Errorf("ALPN: %+v, want http/1.1", resp.TLS)
		}
		if i > 0 && !reused {
			t.Errorf("request %d: the connection was not kept alive", i)
		}
	}
	svPostEcho(t, c, url) // 6 MiB each way, by length and chunked, by hash
}

// TestTLSPipelined: 32 requests in one TLS write are answered in order.
func TestTLSPipelined(t *testing.T) {
	s := tlsServer(t, &evhttp.Server{})
	conn, err := tls.Dial("tcp", s.addr, testutil.TestPKI(t).ClientConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	var reqs strings.Builder
	for i := range 32 {
		reqs.WriteString("GET /path/" + string(rune('a'+i%26)) + " HTTP/1.1\r\nHost: x\r\n\r\n")
	}
	if _, err := io.WriteString(conn, reqs.String()); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	for i := range 32 {
		_, body := svRead(t, br, "GET")
		if want := "/path/" + string(rune('a'+i%26)); body != want {
			t.Fatalf("response %d: %q, want %q", i, body, want)
		}
	}
}

// TestTLSPlainRequest: plain HTTP sent to the TLS port gets a 400 that
// says so, as nginx answers, and the connection closes.
func TestTLSPlainRequest(t *testing.T) {
	s := tlsServer(t, &evhttp.Server{})
	conn, br := svDial(t, s.addr)
	io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, body := svRead(t, br, "GET")
	if resp.StatusCode != 400 || !strings.Contains(body, "plain HTTP request was sent to HTTPS port") || !resp.Close {
		t.Errorf("%v %q (close %v)", resp.Status, body, resp.Close)
	}
	svExpectEOF(t, conn, br)
	// The listener still serves TLS.
	req, _ := http.NewRequest("GET", "https://"+s.addr+"/", nil)
	if resp, _, _ := svDo(t, tlsClient(t), req); resp.StatusCode != 200 {
		t.Errorf("after a plain request: %v", resp.Status)
	}
}

// TestTLSALPN: a Config's own NextProtos are kept; a client that offers
// only http/1.0 (curl --http1.0) is served.
func TestTLSALPN(t *testing.T) {
	s := tlsServer(t, &evhttp.Server{})
	cfg := testutil.TestPKI(t).ClientConfig()
	cfg.NextProtos = []string{"http/1.0"}
	conn, err := tls.Dial("tcp", s.addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if p := conn.ConnectionState().NegotiatedProtocol; p != "http/1.0" {
		t.Errorf("ALPN %q, want http/1.0", p)
	}
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(conn, "GET / HTTP/1.0\r\n\r\n")
	got, _ := io.ReadAll(conn)
	if !strings.HasPrefix(string(got), "HTTP/1.0 200 OK\r\n") || !strings.HasSuffix(string(got), "Hello, World!") {
		t.Errorf("%q", got)
	}

	srv := &evhttp.Server{}
	own := testutil.TestPKI(t).ServerConfig()
	own.NextProtos = []string{"x-test"}
	srv.ListenConfig.TLS = &evnet.TLSConfig{Config: own}
	s2 := svStart(t, srv)
	cfg = testutil.TestPKI(t).ClientConfig()
	cfg.NextProtos = []string{"x-test", "http/1.1"}
	conn2, err := tls.Dial("tcp", s2.addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close()
	if p := conn2.ConnectionState().NegotiatedProtocol; p != "x-test" {
		t.Errorf("ALPN %q with the Config's own NextProtos, want x-test", p)
	}
	if len(own.NextProtos) != 1 {
		t.Errorf("the Config was changed: %q", own.NextProtos)
	}
}

// TestTLSAdapter: an http.Handler through Adapt sees Request.TLS.
func TestTLSAdapter(t *testing.T) {
	h := evhttp.Adapt(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil {
			io.WriteString(w, "no TLS")
			return
		}
		io.WriteString(w, r.TLS.NegotiatedProtocol+" "+tls.VersionName(r.TLS.Version))
	}), nil)
	s := tlsServer(t, &evhttp.Server{Handler: h})
	req, _ := http.NewRequest("GET", "https://"+s.addr+"/", nil)
	resp, body, _ := svDo(t, tlsClient(t), req)
	if resp.StatusCode != 200 || string(body) != "http/1.1 TLS 1.3" {
		t.Errorf("%v %q", resp.Status, body)
	}
}

// TestTLSCurl: curl over HTTPS, keep-alive and HTTP/1.0.
func TestTLSCurl(t *testing.T) {
	curl := testutil.NeedPeer(t, "curl", "curl")
	s := tlsServer(t, &evhttp.Server{})
	_, _, ca := testutil.TestPKI(t).Files(t)
	url := "https://" + s.addr
	out, errOut := runCurl(t, curl, "-v", "--cacert", ca, url+"/path/one", url+"/path/two")
	if out != "/path/one/path/two" {
		t.Errorf("%q", out)
	}
	if !strings.Contains(errOut, "Re-using existing") && !strings.Contains(errOut, "Reusing existing") {
		t.Errorf("curl did not reuse the connection:\n%s", errOut)
	}
	out, _ = runCurl(t, curl, "--http1.0", "-i", "--cacert", ca, url+"/hello")
	if !strings.HasPrefix(out, "HTTP/1.0 200 OK\r\n") || !strings.HasSuffix(out, "Hello, World!") {
		t.Errorf("--http1.0: %q", out)
	}
}

// TestTLSFileServer: files go through TLS (sendfile cannot carry it):
// a large one whole and by range, on one kept-alive connection.
func TestTLSFileServer(t *testing.T) {
	dir := t.TempDir()
	data := svPattern(3<<20 + 17)
	if err := os.WriteFile(filepath.Join(dir, "big.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	s := tlsServer(t, &evhttp.Server{Handler: evhttp.FileServer(dir, nil)})
	c := tlsClient(t)
	for i := range 2 {
		req, _ := http.NewRequest("GET", "https://"+s.addr+"/big.bin", nil)
		resp, body, reused := svDo(t, c, req)
		if resp.StatusCode != 200 || !bytes.Equal(body, data) {
			t.Fatalf("GET %d: %v, %d bytes of %d", i, resp.Status, len(body), len(data))
		}
		if i > 0 && !reused {
			t.Error("not kept alive")
		}
	}
	req, _ := http.NewRequest("GET", "https://"+s.addr+"/big.bin", nil)
	req.Header.Set("Range", "bytes=1000000-1999999")
	resp, body, _ := svDo(t, c, req)
	if resp.StatusCode != 206 || !bytes.Equal(body, data[1000000:2000000]) {
		t.Errorf("range: %v, %d bytes", resp.Status, len(body))
	}
}
