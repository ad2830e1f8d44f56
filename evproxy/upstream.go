package evproxy

import (
	"slices"
	"strings"
	"sync/atomic"

	"github.com/eddyloop/eddy/evhttp/evclient"
)

// UpstreamStats are the figures of one upstream address, summed over the
// loops a Proxy serves: what Proxy.Upstreams returns, for metrics.
type UpstreamStats struct {
	// Name is the upstream as configured (an entry of Config.Upstreams).
	Name string
	// Addr is the address requests go to: "IP:port" for an upstream
	// given by address or resolved by name, "host:port" for one whose
	// name the client resolves itself.
	Addr string
	// Healthy is false while a loop holds the address ejected (passive
	// health) or down (active health checks).
	Healthy bool
	// Retired is true once the address is no longer among its name's
	// addresses: it takes no new request, and those in flight drain.
	Retired bool
	// InFlight is the number of requests sent to the address and not yet
	// over, and Open the connections to it (as of its last request or
	// check on each loop).
	InFlight, Open int64
	// Requests counts the requests sent to the address (retries and
	// health checks apart: a retry counts for the address it goes to, a
	// check not at all), and Failures those that failed as passive
	// health counts failures (see Config.MaxFails).
	Requests, Failures uint64
	// Ejections counts the times the address was ejected by passive
	// health, and Downs the times active health checks marked it down.
	Ejections, Downs uint64

	up int // index in Config.Upstreams, for the order
}

// figures are a backend's counters: written on its loop, read by
// Proxy.Upstreams from any goroutine.
type figures struct {
	inFlight, open                       atomic.Int64
	requests, failures, ejections, downs atomic.Uint64
	unhealthy, retired                   atomic.Bool
}

// backend is one address of one configured upstream, on one loop: its
// clients, its health and its load. Loop goroutine only, but for fig.
type backend struct {
	up     int    // index in Proxy.upstreams
	addr   string // "IP:port" or "host:port"
	base   string // the URL prefix of its requests: scheme://addr/path
	client *evclient.Client
	fresh  *evclient.Client // keeps no idle connection: for retries; made on first use

	inFlight int
	fig      figures
}

// Upstreams appends the figures of every upstream address to dst (an entry
// per configured upstream and address, summed over the loops) and returns
// the extended slice. An address appears once a loop has used it. It may
// be called from any goroutine, at any time: it reads atomics, and
// allocates nothing when dst has room.
func (p *Proxy) Upstreams(dst []UpstreamStats) []UpstreamStats {
	start := len(dst)
	p.loops.Range(func(_, v any) bool {
		ls := v.(*loopState)
		all := ls.all.Load()
		if all == nil {
			return true
		}
		for _, b := range *all {
			dst = b.addTo(p, dst, start)
		}
		return true
	})
	slices.SortStableFunc(dst[start:], func(a, b UpstreamStats) int {
		if a.up != b.up {
			return a.up - b.up
		}
		return strings.Compare(a.Addr, b.Addr)
	})
	return dst
}

// addTo adds b's figures to its entry in dst[start:], appended if new.
func (b *backend) addTo(p *Proxy, dst []UpstreamStats, start int) []UpstreamStats {
	name := p.cfg.Upstreams[b.up]
	i := start
	for ; i < len(dst); i++ {
		if dst[i].Name == name && dst[i].Addr == b.addr {
			break
		}
	}
	if i == len(dst) {
		dst = append(dst, UpstreamStats{Name: name, Addr: b.addr, Healthy: true, Retired: true, up: b.up})
	}
	s := &dst[i]
	f := &b.fig
	s.Healthy = s.Healthy && !f.unhealthy.Load()
	s.Retired = s.Retired && f.retired.Load()
	s.InFlight += f.inFlight.Load()
	s.Open += f.open.Load()
	s.Requests += f.requests.Load()
	s.Failures += f.failures.Load()
	s.Ejections += f.ejections.Load()
	s.Downs += f.downs.Load()
	return dst
}

// pick returns the backend of the next attempt: round robin.
func (ls *loopState) pick() *backend {
	b := ls.backends[ls.next%len(ls.backends)]
	ls.next++
	return b
}
