package evnet

import (
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
