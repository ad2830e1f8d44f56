package evproxy

import (
	"net"
	"net/netip"
	"slices"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evdns"
)

// Bounds of the time between two lookups of an upstream's host name: its
// addresses' TTL, but at least MinResolveInterval; DefaultResolveInterval
// when no TTL is known (a name from the hosts file) or after a failed
// lookup, whose name keeps the addresses it had.
const (
	// MinResolveInterval is the shortest time between two lookups of a
	// name, whatever its TTL.
	MinResolveInterval = time.Second
	// DefaultResolveInterval is the time between two lookups of a name
	// whose TTL is not known, or after a lookup that failed.
	DefaultResolveInterval = 30 * time.Second
)

// name is an upstream given by host name, on one loop: its lookups and the
// timer of the next one; loop goroutine only.
type name struct {
	ls      *loopState
	up      int // index in Proxy.upstreams
	host    string
	port    string
	timer   eddy.Timer
	first   bool // not resolved yet
	pending int  // TTL lookups outstanding
	expires time.Time
	addrs   []netip.Addr
}

// resolver returns the loop's resolver, made on first use.
func (ls *loopState) resolver() *evdns.Resolver {
	if ls.dns == nil {
		if f := ls.p.cfg.Resolver; f != nil {
			ls.dns = f(ls.l)
		} else {
			conf, err := evdns.SystemConfig()
			if err != nil {
				conf = evdns.DefaultConfig()
			}
			hosts, err := evdns.ReadHosts(evdns.DefaultHostsFile)
			if err != nil {
				hosts = nil
			}
			ls.dns = evdns.NewResolver(ls.l, conf, hosts, nil)
		}
	}
	return ls.dns
}

// addName starts resolving upstream up, whose host is a name.
func (ls *loopState) addName(up int) {
	u := ls.p.upstreams[up]
	_, port, _ := net.SplitHostPort(hostPort(u))
	n := &name{ls: ls, up: up, host: u.Hostname(), port: port, first: true}
	n.timer.Init(n.onTimer, 0, 0)
	ls.names = append(ls.names, n)
	ls.resolving++
	n.lookup()
}

func (n *name) onTimer(*eddy.Timer) { n.lookup() }

// lookup resolves the name: its addresses (the hosts file first), then
// the TTL of its A and AAAA records, which sets the next lookup.
func (n *name) lookup() {
	n.ls.resolver().LookupHost(n.host, n.onAddrs)
}

// onAddrs takes the addresses of a lookup, and asks for their TTL.
func (n *name) onAddrs(addrs []netip.Addr, err error) {
	if n.ls.closed {
		return
	}
	if err != nil {
		if n.ls.p.cfg.ErrorLog != nil {
			n.ls.p.cfg.ErrorLog("evproxy: upstream %s: %v", n.ls.p.cfg.Upstreams[n.up], err)
		}
		n.resolved(DefaultResolveInterval)
		return
	}
	n.addrs = append(n.addrs[:0], addrs...)
	n.ls.setAddrs(n.up, n.port, n.addrs)
	n.expires = time.Time{}
	var v4, v6 bool
	for _, a := range n.addrs {
		v4 = v4 || a.Unmap().Is4()
		v6 = v6 || !a.Unmap().Is4()
	}
	n.pending = 1 // until both lookups have started
	if v4 {
		n.pending++
		n.ls.resolver().Lookup(n.host, dnsmessage.TypeA, n.onTTL)
	}
	if v6 {
		n.pending++
		n.ls.resolver().Lookup(n.host, dnsmessage.TypeAAAA, n.onTTL)
	}
	n.onTTL(nil, nil)
}

// onTTL takes the expiry of an A or AAAA answer; the last one sets the
// timer of the next lookup.
func (n *name) onTTL(a *evdns.Answer, err error) {
	if n.ls.closed {
		return
	}
	if err == nil && a != nil && (n.expires.IsZero() || a.Expires.Before(n.expires)) {
		n.expires = a.Expires
	}
	if n.pending--; n.pending > 0 {
		return
	}
	d := DefaultResolveInterval
	if !n.expires.IsZero() {
		d = max(n.expires.Sub(n.ls.l.Now()), MinResolveInterval)
	}
	n.resolved(d)
}

// resolved sets the next lookup d from now, and lets the requests that
// waited for the first one go.
func (n *name) resolved(d time.Duration) {
	n.timer.Set(d, 0)
	n.timer.Start(n.ls.l)
	n.timer.Unref()
	if n.first {
		n.first = false
		n.ls.resolving--
	}
	n.ls.dispatch()
}

// setAddrs makes the backends of upstream up those of addrs: new
// addresses join, addresses gone are retired (they take no new request,
// and their connections close once their requests are over).
func (ls *loopState) setAddrs(up int, port string, addrs []netip.Addr) {
	want := make([]string, 0, len(addrs))
	for _, a := range addrs {
		want = append(want, net.JoinHostPort(a.Unmap().String(), port))
	}
	changed := false
	for _, b := range ls.allBackends() {
		switch keep := slices.Contains(want, b.addr); {
		case b.up != up:
		case keep && b.gone:
			b.gone = false
			b.fig.retired.Store(false)
			changed = true
		case !keep && !b.gone:
			ls.retire(b)
			changed = true
		}
	}
	for _, hp := range want {
		if !slices.ContainsFunc(ls.allBackends(), func(b *backend) bool { return b.up == up && b.addr == hp }) {
			ls.add(up, hp)
			changed = true
		}
	}
	if changed {
		ls.backends = ls.backends[:0]
		for _, b := range ls.allBackends() {
			if !b.gone {
				ls.backends = append(ls.backends, b)
			}
		}
	}
}

// retire takes b out of the balancing: its check stops, its idle
// connections close, and the others once their requests are over.
func (ls *loopState) retire(b *backend) {
	b.gone = true
	b.fig.retired.Store(true)
	if b.hc.running {
		b.hc.call.Cancel()
		b.hc.running, b.hc.call = false, nil
	}
	ls.closeIdle(b)
}

// closeIdle closes b's idle connections.
func (ls *loopState) closeIdle(b *backend) {
	b.client.CloseIdle()
	if b.fresh != nil {
		b.fresh.CloseIdle()
	}
	b.sampleOpen()
}
