package main

// eddy proxy's -metrics: its server's (or TCP listener's) figures, and
// those of its upstreams. The upstreams' come through upstreamSource, so
// that evproxy's own figures, when it keeps them, replace what is counted
// here from the access log with a small adapter (see upstreamSource).

import (
	"errors"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evhttp"
	"github.com/eddyloop/eddy/evhttp/evclient"
	"github.com/eddyloop/eddy/evmetrics"
	"github.com/eddyloop/eddy/evnet"
	"github.com/eddyloop/eddy/evproxy"
)

// upstreamFigures are what -metrics shows of one upstream.
type upstreamFigures struct {
	// URL names the upstream, as its label.
	URL string
	// Requests counts the requests whose last attempt went to it;
	// Failures those of them that failed there (the proxy answered 502 or
	// 504, or cut the response); Retries the attempts beyond the first.
	Requests, Failures, Retries uint64
	// Health is 1 for an upstream in use, 0 for one ejected, -1 when
	// unknown (not shown).
	Health int
}

// upstreamSource gives the figures of the proxy's upstreams, appended to
// dst, from any goroutine.
//
// On main, upstreamCounts counts them from evproxy's access log. When
// evproxy keeps them itself ((*evproxy.Proxy).Upstreams(dst
// []evproxy.UpstreamStats) []evproxy.UpstreamStats), an adapter that
// converts each UpstreamStats into an upstreamFigures replaces it:
//
//	type proxyUpstreams struct{ p *evproxy.Proxy; buf []evproxy.UpstreamStats }
//	func (u *proxyUpstreams) upstreams(dst []upstreamFigures) []upstreamFigures {
//		u.buf = u.p.Upstreams(u.buf[:0])
//		for _, s := range u.buf { dst = append(dst, upstreamFigures{URL: ..., Requests: ..., Health: ...}) }
//		return dst
//	}
//
// (the buffer wants a mutex if scrapes may run on several loops at once;
// here they run on loop 0 only).
type upstreamSource interface {
	upstreams(dst []upstreamFigures) []upstreamFigures
}

// upstreamCollector returns the Collector of src's figures.
func upstreamCollector(src upstreamSource) evmetrics.Collector {
	var figs []upstreamFigures // scrapes run on loop 0 only: one at a time
	return func(w *evmetrics.Writer) {
		figs = src.upstreams(figs[:0])
		for _, f := range []struct {
			name, help string
			n          func(f *upstreamFigures) uint64
		}{
			{"eddy_proxy_upstream_requests_total", "Proxied requests whose last attempt went to the upstream.", func(f *upstreamFigures) uint64 { return f.Requests }},
			{"eddy_proxy_upstream_failures_total", "Proxied requests that failed at the upstream (502, 504, a response cut).", func(f *upstreamFigures) uint64 { return f.Failures }},
			{"eddy_proxy_upstream_retries_total", "Attempts beyond the first of the requests whose last attempt went to the upstream.", func(f *upstreamFigures) uint64 { return f.Retries }},
		} {
			w.Family(f.name, evmetrics.Counter, f.help)
			for i := range figs {
				w.Uint(f.name, f.n(&figs[i]), "upstream", figs[i].URL)
			}
		}
		header := false
		for i := range figs {
			if figs[i].Health < 0 {
				continue
			}
			if !header {
				w.Family("eddy_proxy_upstream_healthy", evmetrics.Gauge, "1 for an upstream in use, 0 for one ejected.")
				header = true
			}
			w.Uint("eddy_proxy_upstream_healthy", uint64(figs[i].Health), "upstream", figs[i].URL)
		}
	}
}

// upstreamCounts counts each upstream's requests from evproxy's access
// log (Config.AccessLog, which runs on the loops): per loop, in atomics
// that a scrape reads.
type upstreamCounts struct {
	urls   []string       // as LogEntry.Upstream names them
	index  map[string]int // URL -> its index; read-only once made
	loopIx map[*eddy.Loop]int
	counts [][]upstreamCounters // [loop][upstream]
}

// upstreamCounters are one loop's counts of one upstream, written by that
// loop only, on a cache line of their own.
type upstreamCounters struct {
	requests, failures, retries atomic.Uint64
	_                           [40]byte
}

// newUpstreamCounts returns the counts of the upstreams of an evproxy
// Config, named as evproxy names them (the URL, without a final slash).
func newUpstreamCounts(upstreams []string) *upstreamCounts {
	u := &upstreamCounts{index: map[string]int{}}
	for _, s := range upstreams {
		pu, err := url.Parse(s)
		if err != nil {
			continue // evproxy.New refuses it
		}
		pu.Path = strings.TrimSuffix(pu.Path, "/")
		pu.RawPath = ""
		if _, dup := u.index[pu.String()]; !dup {
			u.index[pu.String()] = len(u.urls)
			u.urls = append(u.urls, pu.String())
		}
	}
	return u
}

// bind makes room for the loops of g; before the first request. A nil u
// (no -metrics) does nothing, as do its other methods.
func (u *upstreamCounts) bind(g *evnet.Group) {
	if u == nil {
		return
	}
	u.loopIx = map[*eddy.Loop]int{}
	for i := range g.Len() {
		u.loopIx[g.Loop(i)] = i
		u.counts = append(u.counts, make([]upstreamCounters, len(u.urls)))
	}
}

// log counts the exchange of e; on its loop.
func (u *upstreamCounts) log(e *evproxy.LogEntry) {
	if u == nil {
		return
	}
	i, ok := u.index[e.Upstream]
	l, lok := u.loopIx[e.Request.Loop()]
	if !ok || !lok {
		return
	}
	c := &u.counts[l][i]
	c.requests.Add(1)
	if e.Attempts > 1 {
		c.retries.Add(uint64(e.Attempts - 1))
	}
	var ue *evclient.Error
	if e.Status == 502 || e.Status == 504 || errors.As(e.Err, &ue) {
		c.failures.Add(1)
	}
}

func (u *upstreamCounts) upstreams(dst []upstreamFigures) []upstreamFigures {
	for i, s := range u.urls {
		f := upstreamFigures{URL: s, Health: -1}
		for l := range u.counts {
			c := &u.counts[l][i]
			f.Requests += c.requests.Load()
			f.Failures += c.failures.Load()
			f.Retries += c.retries.Load()
		}
		dst = append(dst, f)
	}
	return dst
}

// proxyMetrics starts -metrics for eddy proxy on g (nothing for the zero
// maddr): the server srv and the upstreams' counts ups for an HTTP proxy,
// the listener ln for a TCP one.
func proxyMetrics(g *evnet.Group, maddr netip.AddrPort, srv *evhttp.Server, ups *upstreamCounts, ln *evnet.Listener) (*metricsServer, error) {
	m, err := startMetrics(g, maddr)
	if m == nil || err != nil {
		return nil, err
	}
	if srv != nil {
		m.reg.AddServer("proxy", srv)
	}
	if ln != nil {
		m.reg.AddListener("proxy", ln)
	}
	if ups != nil {
		m.reg.AddCollector(upstreamCollector(ups))
	}
	return m, nil
}
