package evproxy

import (
	"fmt"
	"testing"

	"github.com/eddyloop/eddy"
)

// BenchmarkPick measures the choice of an upstream address among 2 and
// 16, for each way of balancing, with the load and release around it: no
// allocation.
func BenchmarkPick(b *testing.B) {
	l, err := eddy.NewLoop(nil)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	for _, balance := range []Balance{RoundRobin, LeastConn} {
		for _, n := range []int{2, 16} {
			b.Run(fmt.Sprintf("%v/%d", balance, n), func(b *testing.B) {
				var ups []string
				for i := range n {
					ups = append(ups, fmt.Sprintf("http://127.0.0.1:%d", 9000+i))
				}
				p, err := New(&Config{Upstreams: ups, Balance: balance})
				if err != nil {
					b.Fatal(err)
				}
				ls := p.loop(l)
				defer ls.close()
				x := &exchange{p: p, ls: ls}
				b.ReportAllocs()
				for b.Loop() {
					be := ls.pick(x)
					be.inFlight++
					ls.report(be, false)
					be.inFlight--
				}
			})
		}
	}
}
