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
	s, subs, _ := subscribers(b, nil, n)
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

// BenchmarkHub: one 64-byte message broadcast through a Hub to 1,000
// members (which do not read), all written in the call (the slice is as
// large as the Hub); an operation is one delivery.
func BenchmarkHub(b *testing.B) {
	const n = 1000
	s, subs, _ := subscribers(b, nil, n)
	m, _ := evws.NewPrepared(evws.Binary, make([]byte, 64), false)
	b.ReportAllocs()
	s.rl.Do(func() {
		h := evws.NewHub(s.rl.Loop, &evws.HubConfig{Slice: n})
		for _, c := range subs {
			h.Add(c)
		}
		for i := 0; b.Loop(); i++ {
			if i%n == 0 {
				h.Broadcast(m)
			}
		}
	})
}
