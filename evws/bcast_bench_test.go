package evws_test

import (
	"testing"

	"github.com/eddyloop/eddy/evws"
)

// BenchmarkBroadcast: one 64-byte Prepared message sent to 1,000
// subscribers (which do not read: the kernel's buffers hold the
// messages); an operation is one delivery.
func BenchmarkBroadcast(b *testing.B) {
	const n = 1000
	var subs []*evws.Conn
	s := startServer(b, nil, evws.Handler{
		OnOpen: func(c *evws.Conn) { subs = append(subs, c) },
	})
	for range n {
		upgradeRaw(b, s.addr, "")
	}
	s.rl.Barrier()
	m, _ := evws.NewPrepared(evws.Binary, make([]byte, 64), false)
	b.ReportAllocs()
	s.rl.Do(func() {
		i := 0
		for b.Loop() {
			subs[i].WritePrepared(m)
			if i++; i == n {
				i = 0
			}
		}
	})
}
