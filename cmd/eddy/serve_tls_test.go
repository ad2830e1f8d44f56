package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eddyloop/eddy/internal/testutil"
)

// TestServeTLS runs "eddy serve" with -tls-cert and -tls-key: HTTPS with
// Go's client and curl, pipelined requests over TLS, a plain request
// answered 400, files through TLS with -dir, a certificate replaced on
// disk served to the next handshakes, and -tls-client-ca.
func TestServeTLS(t *testing.T) {
	bin := buildEddy(t)
	pki := testutil.TestPKI(t)
	cert, key, ca := pki.Files(t)
	client := pki.ClientConfig()

	t.Run("hello", func(t *testing.T) {
		p := startServe(t, bin, "-quiet", "-tls-cert", cert, "-tls-key", key)
		if !strings.Contains(p.stderr.String(), "listening on https://") {
			t.Errorf("first line: %q", p.stderr.String())
		}
		c, err := tls.Dial("tcp", p.addr, client)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, strings.Repeat(getRequest, 16)) // pipelined
		readHellos(t, bufio.NewReader(c), 16)

		plain, br := dialServe(t, p.addr)
		io.WriteString(plain, getRequest)
		got, _ := io.ReadAll(br)
		if !bytes.HasPrefix(got, []byte("HTTP/1.1 400 Bad Request\r\n")) || !bytes.Contains(got, []byte("plain HTTP request was sent to HTTPS port")) {
			t.Errorf("plain request: %q", got)
		}
		curl := testutil.NeedPeer(t, "curl", "curl")
		out, err := exec.Command(curl, "-sS", "--max-time", "10", "--cacert", ca, "https://"+p.addr+"/", "--http1.0", "https://"+p.addr+"/").CombinedOutput()
		if err != nil || string(out) != "Hello, World!Hello, World!" {
			t.Errorf("curl: %v %q", err, out)
		}
		p.stop(t, syscall.SIGTERM, "stopped after")
	})

	t.Run("dir", func(t *testing.T) {
		dir := t.TempDir()
		data := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
		os.WriteFile(filepath.Join(dir, "big.bin"), data, 0o644)
		p := startServe(t, bin, "-quiet", "-dir", dir, "-tls-cert", cert, "-tls-key", key)
		c, err := tls.Dial("tcp", p.addr, client)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, "GET /big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		got, _ := io.ReadAll(c)
		if !bytes.HasPrefix(got, []byte("HTTP/1.1 200 OK\r\n")) || !bytes.HasSuffix(got, data) {
			t.Errorf("%d bytes, want the file after a 200 head", len(got))
		}
	})

	t.Run("reload", func(t *testing.T) {
		dir := t.TempDir()
		c2, k2 := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
		os.WriteFile(c2, pki.ServerCertPEM, 0o600)
		os.WriteFile(k2, pki.ServerKeyPEM, 0o600)
		p := startServe(t, bin, "-quiet", "-tls-cert", c2, "-tls-key", k2)
		serial := func() string {
			c, err := tls.Dial("tcp", p.addr, &tls.Config{InsecureSkipVerify: true})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			return c.ConnectionState().PeerCertificates[0].SerialNumber.String()
		}
		first := serial()
		other, err := testutil.NewPKI()
		if err != nil {
			t.Fatal(err)
		}
		// A broken replacement keeps the certificate in use, with an error.
		replace := func(name string, b []byte) {
			tmp := name + ".new"
			os.WriteFile(tmp, b, 0o600)
			os.Rename(tmp, name)
		}
		replace(c2, []byte("not a certificate"))
		if !testutil.Eventually(5*time.Second, func() bool { return strings.Contains(p.stderr.String(), "keeping the certificate") }) {
			t.Errorf("no error for a broken certificate:\n%s", p.stderr.String())
		}
		if s := serial(); s != first {
			t.Errorf("after a broken replacement: serial %s, want %s", s, first)
		}
		// Serial numbers are the same (2) in every test PKI: the
		// certificates differ by their keys.
		replace(k2, other.ServerKeyPEM)
		replace(c2, other.ServerCertPEM)
		want := string(other.Server.Certificate[0])
		if !testutil.Eventually(5*time.Second, func() bool {
			c, err := tls.Dial("tcp", p.addr, &tls.Config{InsecureSkipVerify: true})
			if err != nil {
				return false
			}
			defer c.Close()
			return string(c.ConnectionState().PeerCertificates[0].Raw) == want
		}) {
			t.Errorf("the new certificate was not served:\n%s", p.stderr.String())
		}
	})

	t.Run("client-ca", func(t *testing.T) {
		p := startServe(t, bin, "-quiet", "-tls-cert", cert, "-tls-key", key, "-tls-client-ca", ca)
		withCert := pki.ClientConfig()
		withCert.Certificates = []tls.Certificate{pki.Client}
		c, err := tls.Dial("tcp", p.addr, withCert)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, getRequest)
		readHellos(t, bufio.NewReader(c), 1)

		// Without a certificate: TLS 1.3 tells the client after its side
		// of the handshake, at its first read.
		c2, err := tls.Dial("tcp", p.addr, client)
		if err == nil {
			defer c2.Close()
			c2.SetDeadline(time.Now().Add(10 * time.Second))
			io.WriteString(c2, getRequest)
			_, err = c2.Read(make([]byte, 1))
		}
		if err == nil || !strings.Contains(err.Error(), "certificate required") {
			t.Errorf("without a client certificate: %v", err)
		}
	})

	t.Run("usage", func(t *testing.T) {
		for _, args := range [][]string{
			{"-tls-cert", cert},
			{"-tls-key", key},
			{"-tls-client-ca", ca},
		} {
			var e bytes.Buffer
			if st := dispatch(append([]string{"serve"}, args...), io.Discard, &e); st != 2 || !strings.Contains(e.String(), "-tls-") {
				t.Errorf("%q: status %d, %q", args, st, e.String())
			}
		}
		var e bytes.Buffer
		if st := dispatch([]string{"serve", "-addr", "127.0.0.1:0", "-tls-cert", ca + ".missing", "-tls-key", key}, io.Discard, &e); st != 1 {
			t.Errorf("a missing certificate: status %d, %q", st, e.String())
		}
	})
}

// TestServeTLSLoad runs wrk (16 requests pipelined per write) and h2load
// --h1 over TLS against eddy serve: every request answered, none failed.
func TestServeTLSLoad(t *testing.T) {
	bin := buildEddy(t)
	cert, key, _ := testutil.TestPKI(t).Files(t)

	t.Run("wrk", func(t *testing.T) {
		wrk := testutil.NeedPeer(t, "wrk", "wrk")
		script := filepath.Join(t.TempDir(), "pipeline.lua")
		if err := os.WriteFile(script, []byte(wrkPipeline), 0o644); err != nil {
			t.Fatal(err)
		}
		p := startServe(t, bin, "-quiet", "-tls-cert", cert, "-tls-key", key)
		out := runPeer(t, wrk, "-t", "2", "-c", "8", "-d", "2s", "--timeout", "5s", "-s", script, "https://"+p.addr+"/")
		n := match(t, `eddy-wrk requests=(\d+) connect=(\d+) read=(\d+) write=(\d+) status=(\d+) timeout=(\d+)`, out)
		if n[0] == 0 || n[1]+n[2]+n[3]+n[4]+n[5] != 0 {
			t.Errorf("wrk over TLS: %d requests; errors: connect %d, read %d, write %d, status %d, timeout %d\n%s",
				n[0], n[1], n[2], n[3], n[4], n[5], out)
		}
		if rate := regexp.MustCompile(`Requests/sec:\s+\S+`).FindString(out); rate != "" {
			t.Logf("wrk over TLS, 8 connections, 16 pipelined: %d requests, %s", n[0], rate)
		}
		p.stop(t, syscall.SIGTERM, "terminated: stopped after")
	})

	t.Run("h2load", func(t *testing.T) {
		h2load := testutil.NeedPeer(t, "h2load", "nghttp2-client")
		p := startServe(t, bin, "-quiet", "-tls-cert", cert, "-tls-key", key)
		out := runPeer(t, h2load, "--h1", "-n", "2000", "-c", "10", "-m", "4", "https://"+p.addr+"/")
		n := match(t, `requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout`, out)
		if n[0] != 2000 || n[3] != 2000 || n[4]+n[5]+n[6] != 0 {
			t.Errorf("h2load over TLS: %d total, %d succeeded, %d failed, %d errored, %d timeout; want 2000 succeeded\n%s",
				n[0], n[3], n[4], n[5], n[6], out)
		}
		if !strings.Contains(out, "Application protocol: http/1.1") {
			t.Errorf("h2load: no http/1.1 by ALPN\n%s", out)
		}
		p.stop(t, syscall.SIGTERM, "terminated: stopped after 10 connections and 2000 requests")
	})
}

// TestServeTestssl runs testssl.sh's protocol and cipher-category checks
// against eddy serve: TLS 1.2 and 1.3 only, and no suite weaker than an
// AEAD (no NULL, anonymous, export, LOW, 3DES or CBC suites).
func TestServeTestssl(t *testing.T) {
	testssl := testutil.NeedPeer(t, "testssl", "testssl.sh")
	cert, key, _ := testutil.TestPKI(t).Files(t)
	p := startServe(t, buildEddy(t), "-quiet", "-loops", "1", "-tls-cert", cert, "-tls-key", key)
	out := runPeer(t, testssl, "--quiet", "--color", "0", "--warnings", "off", "--protocols", "--std", p.addr)
	for _, want := range []string{
		`SSLv2\s+not offered`,
		`SSLv3\s+not offered`,
		`TLS 1\s+not offered`,
		`TLS 1\.1\s+not offered`,
		`TLS 1\.2\s+offered`,
		`TLS 1\.3\s+offered`,
		`NULL ciphers.*not offered`,
		`Anonymous NULL Ciphers.*not offered`,
		`Export ciphers.*not offered`,
		`LOW: 64 Bit.*not offered`,
		`Triple DES Ciphers.*not offered`,
		`Obsolete CBC ciphers.*not offered`,
		`Strong encryption \(AEAD ciphers\)\s+offered`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("testssl: no line matching %q\n%s", want, out)
		}
	}
}
