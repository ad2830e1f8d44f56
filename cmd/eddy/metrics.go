package main

// -metrics ADDR, on eddy serve, ws and proxy: the figures of the group's
// loops and of the command's servers in the Prometheus text format at
// http://ADDR/metrics (package evmetrics), served on the group's first
// loop, and a timer on every loop that samples the loop's lag.

import (
	"flag"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evhttp"
	"github.com/eddyloop/eddy/evmetrics"
	"github.com/eddyloop/eddy/evnet"
)

// lagSampleEvery is the interval of the timer on each loop whose lateness
// the loop's lag histogram records (eddy.Stats.Lag), whatever other timers
// the loop has: ten wake-ups a second of an idle loop, only with -metrics.
const lagSampleEvery = 100 * time.Millisecond

// metricsFlag adds -metrics to fs.
func metricsFlag(fs *flag.FlagSet) *string {
	return fs.String("metrics", "", "serve the loops' and servers' figures in the Prometheus text format at http://`IP:PORT`/metrics")
}

// parseMetrics checks the value of -metrics; the zero AddrPort for none.
func parseMetrics(fs *flag.FlagSet, s string) (netip.AddrPort, int, bool) {
	if s == "" {
		return netip.AddrPort{}, 0, true
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return ap, usageError(fs, "-metrics: %v", err), false
	}
	return ap, 0, true
}

// metricsServer serves a Registry of a group's loops at /metrics, on the
// group's first loop.
type metricsServer struct {
	reg *evmetrics.Registry
	srv *evhttp.Server
	ln  *evnet.Listener
}

// startMetrics starts the metrics server of g on addr, with g's loops in
// its Registry (the command adds its servers to reg), and a timer on each
// loop that samples its lag. It returns nil and no error for the zero
// addr (no -metrics).
func startMetrics(g *evnet.Group, addr netip.AddrPort) (*metricsServer, error) {
	if !addr.IsValid() {
		return nil, nil
	}
	m := &metricsServer{reg: new(evmetrics.Registry)}
	m.reg.AddGroup(g)
	m.srv = &evhttp.Server{Handler: m.reg}
	var err error
	done := make(chan struct{})
	g.Post(0, func() { m.ln, err = m.srv.Serve(g.Loop(0), "tcp", addr.String()); close(done) })
	<-done
	if err != nil {
		return nil, fmt.Errorf("-metrics: %w", err)
	}
	for i := range g.Len() {
		t := eddy.NewTimer(func(*eddy.Timer) {}, lagSampleEvery, lagSampleEvery)
		g.Post(i, func() { t.Start(g.Loop(i)); t.Unref() })
	}
	return m, nil
}

// close stops serving /metrics (nil: nothing to stop).
func (m *metricsServer) close() {
	if m != nil {
		m.srv.Close()
	}
}

// announce says where the figures are (nil: nothing).
func (m *metricsServer) announce(stderr io.Writer, cmd string) {
	if m != nil {
		fmt.Fprintf(stderr, "eddy %s: metrics at http://%s/metrics\n", cmd, m.ln.Addr())
	}
}
