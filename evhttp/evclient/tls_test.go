package evclient_test

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyloop/eddy/evhttp/evclient"
	"github.com/eddyloop/eddy/evnet"
	"github.com/eddyloop/eddy/internal/testutil"
)

// https against crypto/tls's server (httptest) and nginx: verification,
// SNI, ALPN, keep-alive, session resumption, client certificates.

// tlsOrigin is an httptest TLS server with the test PKI's certificate,
// answering with what it saw of the TLS connection.
type tlsOrigin struct {
	*httptest.Server
	resumed atomic.Int64 // requests on resumed sessions
	conns   atomic.Int64
}

func startTLSOrigin(t *testing.T, cfg func(*tls.Config)) *tlsOrigin {
	t.Helper()
	o := &tlsOrigin{}
	o.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := r.TLS
		if st.DidResume {
			o.resumed.Add(1)
		}
		peer := "-"
		if len(st.PeerCertificates) > 0 {
			peer = st.PeerCertificates[0].Subject.CommonName
		}
		fmt.Fprintf(w, "%s %s sni=%s peer=%s", tls.VersionName(st.Version), st.NegotiatedProtocol, st.ServerName, peer)
	}))
	o.TLS = testutil.TestPKI(t).ServerConfig()
	o.TLS.NextProtos = []string{"http/1.1"}
	if cfg != nil {
		cfg(o.TLS)
	}
	o.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			o.conns.Add(1)
		}
	}
	o.StartTLS()
	t.Cleanup(o.Close)
	return o
}

func TestClientHTTPS(t *testing.T) {
	leakCheck(t)
	o := startTLSOrigin(t, nil)
	rl := startLoop(t)
	c := newClient(t, rl, &evclient.Config{TLS: &tls.Config{RootCAs: testutil.TestPKI(t).CAPool}})
	for range 3 {
		resp := mustGet(t, rl, c, o.URL+"/")
		if got := string(resp.Body); resp.Status != 200 || got != "TLS 1.3 http/1.1 sni= peer=-" {
			t.Fatalf("%d %q", resp.Status, got)
		}
	}
	if n := o.conns.Load(); n != 1 {
		t.Errorf("%d connections for 3 requests, want 1 (keep-alive)", n)
	}

	// By name: SNI and the name verified are the URL's host.
	url := strings.Replace(o.URL, "127.0.0.1", "localhost", 1)
	resp := mustGet(t, rl, c, url+"/")
	if got := string(resp.Body); got != "TLS 1.3 http/1.1 sni=localhost peer=-" {
		t.Errorf("by name: %q", got)
	}
}

// TestClientHTTPSResumption: a new connection to the same host resumes the
// TLS session of the last one.
func TestClientHTTPSResumption(t *testing.T) {
	leakCheck(t)
	o := startTLSOrigin(t, nil)
	rl := startLoop(t)
	c := newClient(t, rl, &evclient.Config{TLS: &tls.Config{RootCAs: testutil.TestPKI(t).CAPool}})
	for range 3 {
		mustGet(t, rl, c, o.URL+"/")
		rl.Do(c.CloseIdle)
	}
	if n, r := o.conns.Load(), o.resumed.Load(); n != 3 || r != 2 {
		t.Errorf("%d connections, %d resumed; want 3 and 2", n, r)
	}
}

// TestClientHTTPSVerify: an unknown authority or a wrong name fails the
// request with the reason; InsecureSkipVerify accepts them.
func TestClientHTTPSVerify(t *testing.T) {
	leakCheck(t)
	o := startTLSOrigin(t, nil)
	rl := startLoop(t)
	c := newClient(t, rl, nil) // the system's roots
	_, err := doReq(t, rl, c, &evclient.Request{URL: o.URL + "/"})
	var unknown x509.UnknownAuthorityError
	if !errors.Is(err, evclient.ErrConnect) || !errors.Is(err, evnet.ErrHandshake) || !errors.As(err, &unknown) {
		t.Errorf("unknown authority: %v", err)
	}
	c2 := newClient(t, rl, &evclient.Config{TLS: &tls.Config{RootCAs: testutil.TestPKI(t).CAPool, ServerName: "other.example"}})
	_, err = doReq(t, rl, c2, &evclient.Request{URL: o.URL + "/"})
	var hostErr x509.HostnameError
	if !errors.As(err, &hostErr) {
		t.Errorf("wrong name: %v", err)
	}
	c3 := newClient(t, rl, &evclient.Config{TLS: &tls.Config{InsecureSkipVerify: true}})
	if resp := mustGet(t, rl, c3, o.URL+"/"); resp.Status != 200 {
		t.Errorf("insecure: %d", resp.Status)
	}
}

// TestClientHTTPSClientCert: a server that requires a client certificate
// gets the one configured; without one the handshake fails.
func TestClientHTTPSClientCert(t *testing.T) {
	leakCheck(t)
	pki := testutil.TestPKI(t)
	o := startTLSOrigin(t, func(cfg *tls.Config) {
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
		cfg.ClientCAs = pki.CAPool
	})
	rl := startLoop(t)
	c := newClient(t, rl, &evclient.Config{TLS: &tls.Config{RootCAs: pki.CAPool, Certificates: []tls.Certificate{pki.Client}}})
	if resp := mustGet(t, rl, c, o.URL+"/"); !strings.HasSuffix(string(resp.Body), "peer=eddy test client") {
		t.Errorf("%q", resp.Body)
	}
	c2 := newClient(t, rl, &evclient.Config{TLS: &tls.Config{RootCAs: pki.CAPool}})
	if _, err := doReq(t, rl, c2, &evclient.Request{URL: o.URL + "/"}); err == nil {
		t.Error("no client certificate: the request succeeded")
	}
}

// TestClientHTTPSHandshakeTimeout: a server that accepts and says nothing
// fails the dial after TLSHandshakeTimeout.
func TestClientHTTPSHandshakeTimeout(t *testing.T) {
	leakCheck(t)
	srv := newRawServer(t, func(_ int, _ net.Conn, r *bufio.Reader) { io.Copy(io.Discard, r) }) // reads, never answers
	rl := startLoop(t)
	c := newClient(t, rl, &evclient.Config{TLSHandshakeTimeout: 100 * time.Millisecond})
	start := time.Now()
	_, err := doReq(t, rl, c, &evclient.Request{URL: "https://" + srv.ln.Addr().String() + "/"})
	if !errors.Is(err, evnet.ErrHandshake) || !errors.Is(err, evnet.ErrTimeout) {
		t.Errorf("%v", err)
	}
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Errorf("failed after %v", d)
	}
}
