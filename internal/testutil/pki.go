package testutil

// A throwaway PKI for the TLS tests: a CA, a server certificate for
// localhost, 127.0.0.1 and ::1, and a client certificate, ECDSA P-256.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// PKI is a test certificate authority with a server and a client
// certificate it signed, valid for a day.
type PKI struct {
	CAPool *x509.CertPool  // trusts the CA
	CAPEM  []byte          // the CA's certificate, PEM
	Server tls.Certificate // for localhost, 127.0.0.1 and ::1, server auth
	Client tls.Certificate // client auth
	// ServerCertPEM and ServerKeyPEM are the server's certificate and key
	// as PEM, for peers that read files (openssl, curl, eddy's flags).
	ServerCertPEM, ServerKeyPEM []byte
}

var (
	pkiOnce sync.Once
	pki     *PKI
	pkiErr  error
)

// TestPKI returns the PKI of the test binary, made on first use.
func TestPKI(tb testing.TB) *PKI {
	tb.Helper()
	pkiOnce.Do(func() { pki, pkiErr = NewPKI() })
	if pkiErr != nil {
		tb.Fatal(pkiErr)
	}
	return pki
}

// NewPKI makes a new PKI.
func NewPKI() (*PKI, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "eddy test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	p := &PKI{CAPool: x509.NewCertPool(), CAPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})}
	p.CAPool.AddCert(ca)
	leaf := func(serial int64, name string, usage x509.ExtKeyUsage) (tls.Certificate, []byte, []byte, error) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return tls.Certificate{}, nil, nil, err
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: name},
			NotBefore:    now.Add(-time.Hour),
			NotAfter:     now.Add(24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
			DNSNames:     []string{"localhost"},
			IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			return tls.Certificate{}, nil, nil, err
		}
		kder, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			return tls.Certificate{}, nil, nil, err
		}
		certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
		keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		return cert, certPEM, keyPEM, err
	}
	if p.Server, p.ServerCertPEM, p.ServerKeyPEM, err = leaf(2, "eddy test server", x509.ExtKeyUsageServerAuth); err != nil {
		return nil, err
	}
	if p.Client, _, _, err = leaf(3, "eddy test client", x509.ExtKeyUsageClientAuth); err != nil {
		return nil, err
	}
	return p, nil
}

// ServerConfig returns a server tls.Config with the server certificate.
func (p *PKI) ServerConfig() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{p.Server}}
}

// ClientConfig returns a client tls.Config that trusts the CA, for the
// name localhost.
func (p *PKI) ClientConfig() *tls.Config {
	return &tls.Config{RootCAs: p.CAPool, ServerName: "localhost"}
}

// Files writes the server's certificate and key and the CA's certificate
// to files in a temporary directory of tb, and returns their names.
func (p *PKI) Files(tb testing.TB) (cert, key, ca string) {
	tb.Helper()
	dir := tb.TempDir()
	cert, key, ca = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), filepath.Join(dir, "ca.pem")
	for name, b := range map[string][]byte{cert: p.ServerCertPEM, key: p.ServerKeyPEM, ca: p.CAPEM} {
		if err := os.WriteFile(name, b, 0o600); err != nil {
			tb.Fatal(err)
		}
	}
	return cert, key, ca
}
