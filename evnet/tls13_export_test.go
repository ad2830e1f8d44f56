package evnet

import (
	"crypto/tls"
	"testing"
)

// OwnRecords reports whether c, a TLS connection, uses evnet's TLS 1.3
// record layer (tls13.go) rather than crypto/tls's.
func OwnRecords(c *Conn) bool { return c.x != nil && c.x.tls != nil && c.x.tls.r13 != nil }

// OwnRecordsDefault reports whether evnet's TLS 1.3 record layer is on
// for servers unless TLSConfig.StdRecords.
func OwnRecordsDefault() bool { return ownRecordsDefault }

// SetOwnRecordsDefault turns evnet's TLS 1.3 record layer on or off by
// default until the test ends.
func SetOwnRecordsDefault(t testing.TB, on bool) {
	old := ownRecordsDefault
	ownRecordsDefault = on
	t.Cleanup(func() { ownRecordsDefault = old })
}

// Records13 is one end's TLS 1.3 record layer, for tests that play a
// client record by record.
type Records13 struct{ r *rec13 }

// NewRecords13 returns a record layer that opens with the secret in and
// seals with out (a client's: the server's secret in, its own out).
func NewRecords13(suite uint16, in, out []byte) (*Records13, error) {
	r, err := newRec13(suite, in, out)
	if err != nil {
		return nil, err
	}
	return &Records13{r}, nil
}

// Seal appends a record of inner type typ carrying p.
func (r *Records13) Seal(dst []byte, typ uint8, p []byte) []byte { return r.r.out.seal(dst, typ, p) }

// SealInner appends a record whose whole inner plaintext (content, type
// and padding) is inner.
func (r *Records13) SealInner(dst, inner []byte) []byte {
	d := &r.r.out
	n := len(inner) + d.aead.Overhead()
	dst = append(dst, recordTypeAppData, 3, 3, byte(n>>8), byte(n))
	at := len(dst)
	d.xorSeq()
	dst = d.aead.Seal(dst, d.iv[:], inner, dst[at-recordHeaderLen:at])
	d.xorSeq()
	d.seq++
	return dst
}

// Open decrypts a whole record in place: its content and inner type, or
// an alert description + 1.
func (r *Records13) Open(rec []byte) (p []byte, typ uint8, alert int) { return r.r.in.open(rec) }

// UpdateIn and UpdateOut move to the next traffic secret (KeyUpdate).
func (r *Records13) UpdateIn() error  { return r.r.in.update(r.r) }
func (r *Records13) UpdateOut() error { return r.r.out.update(r.r) }

var _ = tls.VersionTLS13

// KeyRoutes returns the client randoms registered with ln's key log
// router (-1 without one). On ln's loop.
func KeyRoutes(ln *Listener) int {
	if kr := ln.sh.tls.keys; kr != nil {
		return kr.routes()
	}
	return -1
}
