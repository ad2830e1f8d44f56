package evnet

// Certificates from PEM files, loaded again when the files change.

import (
	"crypto/tls"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/eddyloop/eddy"
)

// CertFiles is a certificate and its key loaded from PEM files, and loaded
// again when either file changes on disk (eddy's Stat watcher), for the
// handshakes that follow: a renewed certificate is served without a
// restart. A replacement that does not load (half written, or a key that
// does not match the certificate yet) leaves the certificate in use, and
// the error goes to the logf given to LoadCertFiles; the next change is
// tried again. Files are best replaced by rename, which a watcher always
// sees (see eddy.Stat on timestamp granularity).
//
// Use its GetCertificate as tls.Config.GetCertificate. It may be called
// from any goroutine (handshakes run on their own), so that one CertFiles
// serves every loop of a Group; the other methods belong to the loop given
// to LoadCertFiles.
type CertFiles struct {
	cert              atomic.Pointer[tls.Certificate]
	certFile, keyFile string
	logf              func(format string, args ...any)
	l                 *eddy.Loop
	watch             [2]eddy.Stat
	// Loop goroutine only.
	loading bool // a load is on the work pool
	again   bool // a change came meanwhile: load once more
	closed  bool
}

// certCheckInterval is the Stat watchers' backstop interval.
const certCheckInterval = 10 * time.Second

// LoadCertFiles loads the certificate (chain) in certFile and its private
// key in keyFile, both PEM (tls.LoadX509KeyPair), and watches the files on
// l. The first load happens at once and its error is returned; the loads
// after a change run on l's work pool, and a failure is reported to logf
// (nil: not reported). It must be called on l's goroutine, or before l
// runs. The watchers do not keep l's Run alive; Close stops them.
func LoadCertFiles(l *eddy.Loop, certFile, keyFile string, logf func(format string, args ...any)) (*CertFiles, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("evnet: %w", err)
	}
	cf := &CertFiles{certFile: certFile, keyFile: keyFile, logf: logf, l: l}
	cf.cert.Store(&cert)
	for i, path := range []string{certFile, keyFile} {
		w := &cf.watch[i]
		w.Init(cf.changed, path, certCheckInterval)
		if err := w.Start(l); err != nil {
			cf.Close()
			return nil, fmt.Errorf("evnet: watch %s: %w", path, err)
		}
		w.Unref()
	}
	return cf, nil
}

// GetCertificate returns the certificate in use, for
// tls.Config.GetCertificate. Any goroutine may call it.
func (cf *CertFiles) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return cf.cert.Load(), nil
}

// Certificate returns the certificate in use. Any goroutine may call it.
func (cf *CertFiles) Certificate() *tls.Certificate { return cf.cert.Load() }

// Reload loads the files again, as a change would make it: on the work
// pool, the certificate in use staying if they do not load.
func (cf *CertFiles) Reload() {
	if cf.closed {
		return
	}
	if cf.loading {
		cf.again = true
		return
	}
	cf.loading = true
	var cert tls.Certificate
	var err error
	_, qerr := cf.l.Queue(eddy.LaneFast, func() {
		cert, err = tls.LoadX509KeyPair(cf.certFile, cf.keyFile)
	}, func(qe error) {
		cf.loading = false
		switch {
		case cf.closed:
			return
		case qe != nil:
			err = qe
		case err == nil:
			cf.cert.Store(&cert)
		}
		if err != nil && cf.logf != nil {
			cf.logf("evnet: reloading %s and %s: %v; keeping the certificate loaded before", cf.certFile, cf.keyFile, err)
		}
		if cf.again {
			cf.again = false
			cf.Reload()
		}
	})
	if qerr != nil {
		cf.loading = false
		if cf.logf != nil {
			cf.logf("evnet: reloading %s: %v", cf.certFile, qerr)
		}
	}
}

func (cf *CertFiles) changed(*eddy.Stat) { cf.Reload() }

// Close stops watching the files; the certificate in use stays.
func (cf *CertFiles) Close() {
	cf.closed = true
	cf.watch[0].Stop()
	cf.watch[1].Stop()
}
