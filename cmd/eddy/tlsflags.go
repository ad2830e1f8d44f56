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
	"net/netip"
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

// checkServer checks the flags every server command shares: the -addr
// value, parsed, a -loops count that is not negative, and the TLS flags.
// On a usage error it returns the status after the message, and false.
func checkServer(fs *flag.FlagSet, addr string, loops int, t *tlsFlags) (netip.AddrPort, int, bool) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return ap, usageError(fs, "-addr: %v", err), false
	}
	if loops < 0 {
		return ap, usageError(fs, "-loops: negative count %d", loops), false
	}
	if msg := t.check(); msg != "" {
		return ap, usageError(fs, "%s", msg), false
	}
	return ap, 0, true
}

// clientTLS is the TLS configuration of a client command's -cacert and
// -insecure flags (the system's roots when neither is set). On a usage
// error it returns the status after the message, and false.
func clientTLS(fs *flag.FlagSet, caFile string, insecure bool) (*tls.Config, int, bool) {
	if caFile != "" && insecure {
		return nil, usageError(fs, "-cacert and -insecure: choose one"), false
	}
	conf := &tls.Config{InsecureSkipVerify: insecure}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, usageError(fs, "-cacert: %v", err), false
		}
		conf.RootCAs = x509.NewCertPool()
		if !conf.RootCAs.AppendCertsFromPEM(pem) {
			return nil, usageError(fs, "-cacert: no PEM certificate in %s", caFile), false
		}
	}
	return conf, 0, true
}
