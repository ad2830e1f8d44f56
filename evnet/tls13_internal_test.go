package evnet

import (
	"bytes"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"testing"
)

// BenchmarkNewRec13 measures keying the record layer at a handshake's
// end: four HKDF-Expand-Labels, two AEADs.
func BenchmarkNewRec13(b *testing.B) {
	secret := make([]byte, 32)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := newRec13(tls.TLS_AES_128_GCM_SHA256, secret, secret); err != nil {
			b.Fatal(err)
		}
	}
}

// TestExpandLabel: expandLabel's HMAC on the stack gives what
// crypto/hkdf gives, for both hashes, every length it is asked for, and
// secrets of the two sizes.
func TestExpandLabel(t *testing.T) {
	for _, suite := range []uint16{tls.TLS_AES_128_GCM_SHA256, tls.TLS_AES_256_GCM_SHA384} {
		r := &rec13{suite: suite, sha384: suite == tls.TLS_AES_256_GCM_SHA384}
		secret := make([]byte, r.hashLen())
		for i := range secret {
			secret[i] = byte(i*7 + 1)
		}
		for _, c := range []struct {
			label string
			n     int
		}{{"key", 16}, {"key", 32}, {"iv", 12}, {"traffic upd", r.hashLen()}} {
			info := append([]byte{byte(c.n >> 8), byte(c.n), byte(6 + len(c.label))}, "tls13 "+c.label...)
			info = append(info, 0)
			h := sha256.New
			if r.sha384 {
				h = sha512.New384
			}
			want, err := hkdf.Expand(h, secret, string(info), c.n)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.expandLabel(secret, c.label, c.n); !bytes.Equal(got[:c.n], want) {
				t.Errorf("suite %x, %q, %d bytes: % x, want % x", suite, c.label, c.n, got[:c.n], want)
			}
		}
	}
}
