package main

// eddy proxy's -metrics: its server's (or TCP listener's) figures, and
// those of its upstream addresses (evproxy.Proxy.Upstreams).

import (
	"net/netip"

	"github.com/eddyloop/eddy/evhttp"
	"github.com/eddyloop/eddy/evmetrics"
	"github.com/eddyloop/eddy/evnet"
	"github.com/eddyloop/eddy/evproxy"
)

// upstreamCollector returns the Collector of p's upstream figures
// (Proxy.Upstreams), one series per upstream address.
func upstreamCollector(p *evproxy.Proxy) evmetrics.Collector {
	var figs []evproxy.UpstreamStats // scrapes run on loop 0 only: one at a time
	return func(w *evmetrics.Writer) {
		figs = p.Upstreams(figs[:0])
		for _, f := range []struct {
			name, help string
			kind       evmetrics.Type
			n          func(f *evproxy.UpstreamStats) uint64
		}{
			{"eddy_proxy_upstream_requests_total", "Requests sent to the upstream address (retries to it included).", evmetrics.Counter,
				func(f *evproxy.UpstreamStats) uint64 { return f.Requests }},
			{"eddy_proxy_upstream_failures_total", "Requests that failed at the upstream address as passive health counts them.", evmetrics.Counter,
				func(f *evproxy.UpstreamStats) uint64 { return f.Failures }},
			{"eddy_proxy_upstream_ejections_total", "Times passive health ejected the upstream address.", evmetrics.Counter,
				func(f *evproxy.UpstreamStats) uint64 { return f.Ejections }},
			{"eddy_proxy_upstream_downs_total", "Times active health checks marked the upstream address down.", evmetrics.Counter,
				func(f *evproxy.UpstreamStats) uint64 { return f.Downs }},
			{"eddy_proxy_upstream_in_flight", "Requests sent to the upstream address and not yet over.", evmetrics.Gauge,
				func(f *evproxy.UpstreamStats) uint64 { return uint64(max(f.InFlight, 0)) }},
			{"eddy_proxy_upstream_open_connections", "Connections open to the upstream address.", evmetrics.Gauge,
				func(f *evproxy.UpstreamStats) uint64 { return uint64(max(f.Open, 0)) }},
			{"eddy_proxy_upstream_healthy", "1 for an upstream address in use, 0 for one ejected or down.", evmetrics.Gauge,
				func(f *evproxy.UpstreamStats) uint64 { return b2u(f.Healthy) }},
		} {
			w.Family(f.name, f.kind, f.help)
			for i := range figs {
				w.Uint(f.name, f.n(&figs[i]), "upstream", figs[i].Name, "addr", figs[i].Addr)
			}
		}
	}
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// proxyMetrics starts -metrics for eddy proxy on g (nothing for the zero
// maddr): the server srv and the upstreams of p for an HTTP proxy, the
// listener ln for a TCP one.
func proxyMetrics(g *evnet.Group, maddr netip.AddrPort, srv *evhttp.Server, p *evproxy.Proxy, ln *evnet.Listener) (*metricsServer, error) {
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
	if p != nil {
		m.reg.AddCollector(upstreamCollector(p))
	}
	return m, nil
}
