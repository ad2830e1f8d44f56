package evproxy

import (
	"net/http"
	"slices"
	"time"

	"github.com/eddyloop/eddy"
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
	fails    int       // failures in a row
	ejected  int       // ejections in a row (without a success between)
	until    time.Time // ejected until then
	down     bool      // marked down by active health checks
	shown    bool      // fig.unhealthy is set
	gone     bool      // no longer among its name's addresses
	hc       checker
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

// sampleOpen publishes the number of b's open connections.
func (b *backend) sampleOpen() {
	open := b.client.Stats().Open
	if b.fresh != nil {
		open += b.fresh.Stats().Open
	}
	b.fig.open.Store(int64(open))
}

// usable reports whether b takes requests at now: not ejected, not down.
// An address back from an ejection shows as healthy again here.
func (b *backend) usable(now time.Time) bool {
	if b.down || now.Before(b.until) {
		return false
	}
	if b.shown {
		b.shown = false
		b.fig.unhealthy.Store(false)
	}
	return true
}

// setShown makes fig.unhealthy tell whether b is ejected or down.
func (b *backend) setShown(now time.Time) {
	sick := b.down || now.Before(b.until)
	if sick != b.shown {
		b.shown = sick
		b.fig.unhealthy.Store(sick)
	}
}

// pick returns the backend of x's next attempt, or nil when there is
// none to take it now (every usable address at its bound, or none known
// yet). The candidates are the usable addresses, or all of them when
// none is usable (an upstream that was ejected may be back: trying beats
// refusing every request, as nginx does); among those with room, an
// address that x has not tried yet comes first, then the balancing
// decides: the next in turn, or the fewest requests in flight (ties in
// turn).
func (ls *loopState) pick(x *exchange) *backend {
	n := len(ls.backends)
	if n == 0 {
		return nil
	}
	now := ls.l.Now()
	limit := ls.p.cfg.MaxConnsPerUpstream
	least := ls.p.cfg.Balance == LeastConn
	anyUsable := false
	var best, bestAll *backend
	var key, keyAll, at, atAll int
	j := ls.next % n
	for range n {
		b := ls.backends[j]
		usable := b.usable(now)
		anyUsable = anyUsable || usable
		if b.inFlight < limit {
			k := 0
			if least {
				k = b.inFlight
			}
			if x.tried(b) {
				k += 1 << 40
			}
			if usable && (best == nil || k < key) {
				best, key, at = b, k, j
				if k == 0 {
					break // none can come before it
				}
			}
			if bestAll == nil || k < keyAll {
				bestAll, keyAll, atAll = b, k, j
			}
		}
		if j++; j == n {
			j = 0
		}
	}
	if !anyUsable {
		best, at = bestAll, atAll
	}
	if best != nil {
		ls.next = at + 1
	}
	return best
}

// report counts the outcome of a request on b for its passive health.
func (ls *loopState) report(b *backend, failed bool) {
	cfg := &ls.p.cfg
	if !failed {
		b.fails, b.ejected = 0, 0
		return
	}
	b.fig.failures.Add(1)
	now := ls.l.Now()
	if cfg.MaxFails < 0 || now.Before(b.until) {
		return // ejected already: the failures of requests sent before do not count
	}
	b.fails++
	if b.fails < cfg.MaxFails && b.ejected == 0 {
		return
	}
	b.fails = 0
	d := cfg.EjectTime
	for i := 0; i < b.ejected && d < cfg.MaxEjectTime; i++ {
		d *= 2
	}
	b.ejected++
	b.until = now.Add(min(d, cfg.MaxEjectTime))
	b.fig.ejections.Add(1)
	b.setShown(now)
}

// The queue: requests that found no upstream address with room wait in a
// list per loop, in order, until a request in flight ends (or an address
// appears), at most Config.QueueTimeout; one timer serves the whole
// queue, set for the oldest request's deadline.

// enqueue puts x at the end of the queue, or reports false when it is
// full.
func (ls *loopState) enqueue(x *exchange) bool {
	if ls.qlen >= ls.p.cfg.MaxQueue {
		return false
	}
	x.queued = true
	x.since = ls.l.Now()
	x.qprev, x.qnext = ls.qtail, nil
	if ls.qtail != nil {
		ls.qtail.qnext = x
	} else {
		ls.qhead = x
	}
	ls.qtail = x
	ls.qlen++
	if !ls.qtimer.IsActive() {
		ls.setQueueTimer(ls.p.cfg.QueueTimeout)
	}
	return true
}

// setQueueTimer sets the queue's timer to d, or sooner if an address with
// room comes back from an ejection before: the queue may go to it then.
func (ls *loopState) setQueueTimer(d time.Duration) {
	now := ls.l.Now()
	for _, b := range ls.backends {
		if !b.down && now.Before(b.until) && b.inFlight < ls.p.cfg.MaxConnsPerUpstream {
			d = min(d, b.until.Sub(now))
		}
	}
	ls.qtimer.Set(d, 0)
	ls.qtimer.Start(ls.l)
}

// dequeue takes x out of the queue.
func (ls *loopState) dequeue(x *exchange) {
	if !x.queued {
		return
	}
	x.queued = false
	if x.qprev != nil {
		x.qprev.qnext = x.qnext
	} else {
		ls.qhead = x.qnext
	}
	if x.qnext != nil {
		x.qnext.qprev = x.qprev
	} else {
		ls.qtail = x.qprev
	}
	x.qprev, x.qnext = nil, nil
	ls.qlen--
	if ls.qlen == 0 {
		ls.qtimer.Stop()
	}
}

// dispatch sends the requests at the head of the queue while addresses
// have room.
func (ls *loopState) dispatch() {
	if len(ls.backends) == 0 && ls.resolving == 0 {
		for x := ls.qhead; x != nil; x = ls.qhead {
			ls.dequeue(x)
			x.fail(http.StatusBadGateway, "bad gateway: no upstream address")
		}
		return
	}
	for ls.qhead != nil && !ls.dispatching {
		x := ls.qhead
		b := ls.pick(x)
		if b == nil {
			return
		}
		ls.dequeue(x)
		ls.dispatching = true // a send that ends at once comes back here
		x.sendTo(b)
		ls.dispatching = false
	}
}

// onQueueTimer sends what it can of the queue, answers 503 to the
// requests that waited QueueTimeout, and sets the timer for the next one.
func (ls *loopState) onQueueTimer(*eddy.Timer) {
	ls.dispatch() // to an address back from an ejection
	now := ls.l.Now()
	for x := ls.qhead; x != nil; x = ls.qhead {
		if left := ls.p.cfg.QueueTimeout - now.Sub(x.since); left > 0 {
			ls.setQueueTimer(left)
			return
		}
		ls.dequeue(x)
		x.unavailable("no upstream connection came free in time")
	}
}
