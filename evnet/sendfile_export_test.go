package evnet

import "testing"

// CopiedRegions returns the number of regions sent with pread and write
// because sendfile refused them, since the process started.
func CopiedRegions() int64 { return copiedRegions.Load() }

// DisableSendfile makes every SendFile take the pread fallback until the
// test ends.
func DisableSendfile(t testing.TB) {
	sendfileDisabled.Store(true)
	t.Cleanup(func() { sendfileDisabled.Store(false) })
}
