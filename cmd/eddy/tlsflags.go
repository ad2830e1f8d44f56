package main

// The TLS flags of the servers: -tls-cert and -tls-key (a certificate
// watched on disk, evnet.CertFiles) and -tls-client-ca (client
// certificates required and verified).

import (
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/eddyloop/eddy/evnet"
)

// tls12Suites are the TLS 1.2 cipher suites the servers offer: ECDHE
// with an AEAD only, as Mozilla's "intermediate" configuration, not the
// CBC suites crypto/tls also enables by default. (TLS 1.3's suites are
// all AEAD and not configurable.)
var tls12Suites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// tlsFlags are a server's TLS flags.
type tlsFlags struct {
	cert, key, clientCA *string
}

// addTLSFlags defines -tls-cert and -tls-key on fs, and -tls-client-ca
// when clientCA is set.
func addTLSFlags(fs *flag.FlagSet, clientCA bool) *tlsFlags {
	t := &tlsFlags{
		cert: fs.String("tls-cert", "", "serve TLS with the certificate (chain) in the PEM `FILE` (with -tls-key); a replaced file is served to new handshakes"),
		key:  fs.String("tls-key", "", "the private key of -tls-cert, a PEM `FILE`"),
	}
	if clientCA {
		t.clientCA = fs.String("tls-client-ca", "", "require client certificates signed by the CA certificates in the PEM `FILE` (with -tls-cert)")
	}
	return t
}

// check reports a usage error in the flags, or "".
func (t *tlsFlags) check() string {
	switch {
	case (*t.cert == "") != (*t.key == ""):
		return "-tls-cert and -tls-key go together"
	case t.clientCA != nil && *t.clientCA != "" && *t.cert == "":
		return "-tls-client-ca needs -tls-cert and -tls-key"
	}
	return ""
}

// on reports whether TLS was asked for.
func (t *tlsFlags) on() bool { return *t.cert != "" }

// config loads the certificate on the first loop of g, where its files are
// watched, and returns the servers' TLS settings, or nil without -tls-cert.
// Reload errors go to stderr, prefixed with name.
func (t *tlsFlags) config(g *evnet.Group, name string, stderr io.Writer) (*evnet.TLSConfig, error) {
	if !t.on() {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, CipherSuites: tls12Suites}
	if t.clientCA != nil && *t.clientCA != "" {
		pem, err := os.ReadFile(*t.clientCA)
		if err != nil {
			return nil, err
		}
		cfg.ClientCAs = x509.NewCertPool()
		if !cfg.ClientCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("-tls-client-ca: no PEM certificate in %s", *t.clientCA)
		}
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	var certs *evnet.CertFiles
	loaded := make(chan error, 1)
	g.Post(0, func() {
		var err error
		certs, err = evnet.LoadCertFiles(g.Loop(0), *t.cert, *t.key, func(format string, args ...any) {
			fmt.Fprintf(stderr, "eddy "+name+": "+format+"\n", args...) // an error: even with -quiet
		})
		loaded <- err
	})
	if err := <-loaded; err != nil {
		return nil, err
	}
	cfg.GetCertificate = certs.GetCertificate
	return &evnet.TLSConfig{Config: cfg}, nil
}
