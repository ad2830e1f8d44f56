package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eddyloop/eddy/internal/testutil"
)

// echoTLSFiles writes a self-signed ECDSA P-256 certificate for
// 127.0.0.1 and localhost and its key to dir, and returns the files and a
// pool that trusts the certificate.
func echoTLSFiles(t *testing.T) (cert, key string, pool *x509.CertPool) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "eddy echo test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(c)
	dir := t.TempDir()
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, key, pool
}

// TestEchoTLSBinary runs "eddy echo -tls-cert C -tls-key K": Go's TLS
// client (1.2 and 1.3) gets 4 MiB back, checked by hash, and a
// close_notify at the end; openssl s_client gets its line back; a plain
// client is refused; SIGTERM stops it with status 0.
func TestEchoTLSBinary(t *testing.T) {
	bin := buildEddy(t)
	cert, key, pool := echoTLSFiles(t)
	p := startEcho(t, bin, nil, "-loops", "2", "-tls-cert", cert, "-tls-key", key)
	if first := firstLine(p.stderr.String()); !strings.Contains(first, ", TLS)") {
		t.Errorf("first line %q, want TLS", first)
	}
	data := make([]byte, 4<<20)
	rand.Read(data)
	want := sha256.Sum256(data)
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", p.addr,
			&tls.Config{RootCAs: pool, MinVersion: v, MaxVersion: v})
		if err != nil {
			t.Fatalf("TLS %x: %v", v, err)
		}
		c.SetDeadline(time.Now().Add(20 * time.Second))
		go func() {
			c.Write(data)
			c.CloseWrite() // close_notify: the server closes after the echo
		}()
		h := sha256.New()
		n, err := io.Copy(h, c) // to the server's close_notify
		c.Close()
		if err != nil || n != int64(len(data)) || !bytes.Equal(h.Sum(nil), want[:]) {
			t.Errorf("TLS %x: %d bytes of %d back (hash equal: %v), %v", v, n, len(data), bytes.Equal(h.Sum(nil), want[:]), err)
		}
	}
	// A plain client gets no echo: the connection is closed.
	plain, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	plain.SetDeadline(time.Now().Add(5 * time.Second))
	plain.Write([]byte("hello in the clear\n"))
	if got, _ := io.ReadAll(plain); bytes.Contains(got, []byte("hello")) {
		t.Errorf("plain client got %q", got)
	}
	plain.Close()
	if openssl := opensslPath(t); openssl != "" {
		if got, err := sClientLine(openssl, p.addr, cert, "hello, openssl\n"); err != nil || got != "hello, openssl\n" {
			t.Errorf("openssl s_client: %q, %v", got, err)
		}
	}
	// A renewed certificate, put in place by rename: the next handshakes get it.
	cert2, key2, pool2 := echoTLSFiles(t)
	for _, f := range [][2]string{{key2, key}, {cert2, cert}} {
		if err := os.Rename(f[0], f[1]); err != nil {
			t.Fatal(err)
		}
	}
	renewed := testutil.Eventually(15*time.Second, func() bool {
		c, err := tls.Dial("tcp", p.addr, &tls.Config{RootCAs: pool2})
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	if !renewed {
		t.Errorf("the renewed certificate was not served:\n%s", p.stderr.String())
	}
	p.stop(t, syscall.SIGTERM, "terminated: stopped after")
}

// sClientLine sends line through openssl s_client to addr (a TLS
// server whose certificate is the CA file ca) and returns the first line
// that comes back; then it closes s_client's input, which ends it.
func sClientLine(openssl, addr, ca, line string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, openssl, "s_client", "-connect", addr, "-CAfile", ca,
		"-verify_return_error", "-quiet", "-no_ign_eof")
	in, err := cmd.StdinPipe()
	if err != nil {
		return "", err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	if err := cmd.Start(); err != nil {
		return "", err
	}
	defer cmd.Wait()
	defer in.Close()
	io.WriteString(in, line)
	got, err := bufio.NewReader(out).ReadString('\n')
	return got, err
}

// opensslPath returns openssl's path, or "" (the test then skips that
// part) when it is missing outside CI.
func opensslPath(t *testing.T) string {
	var path string
	t.Run("openssl", func(t *testing.T) { path = testutil.NeedPeer(t, "openssl", "openssl") })
	return path
}

func TestEchoTLSUsage(t *testing.T) {
	cert, key, _ := echoTLSFiles(t)
	for _, args := range [][]string{{"-tls-cert", cert}, {"-tls-key", key}} {
		var stderr bytes.Buffer
		if status := runEcho(args, io.Discard, &stderr); status != 2 || !strings.Contains(stderr.String(), "go together") {
			t.Errorf("eddy echo %q: status %d, want 2\n%s", args, status, stderr.String())
		}
	}
	var stderr bytes.Buffer
	if status := runEcho([]string{"-tls-cert", cert, "-tls-key", cert}, io.Discard, &stderr); status != 1 {
		t.Errorf("eddy echo with a certificate as its key: status %d, want 1\n%s", status, stderr.String())
	}
}
