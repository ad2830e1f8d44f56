package main

// eddy proxy: a reverse proxy on evnet and evproxy. Without -tcp it is an
// HTTP/1.1 reverse proxy (evproxy.Proxy on an evhttp.Server) to one or more
// upstream URLs (round robin or least connections, passive health,
// optional health checks, names re-resolved on their TTL), with an access
// log line per request that names the upstream; with -tcp it relays every
// connection to an upstream HOST:PORT (evnet.DialRelay), both ways,
// half-close passed on. Either way, SIGINT and SIGTERM drain what is in
// progress, then exit 0.

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/eddyloop/eddy/evhttp"
	"github.com/eddyloop/eddy/evnet"
	"github.com/eddyloop/eddy/evproxy"
)

// proxyDrainTimeout bounds how long eddy proxy waits, when told to stop,
// for the requests and relays in progress.
const proxyDrainTimeout = 5 * time.Second

// stringList is a flag that may be given several times.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// runProxy is "eddy proxy": it serves until SIGINT or SIGTERM, then exits 0.
func runProxy(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("proxy", "[-addr IP:PORT] -upstream URL [-upstream URL ...] [-tcp [-proxy-protocol 1|2]] [-upstream-timeout D] [-balance MODE] [-health-check PATH [-health-interval D]] [-loops N] [-backend NAME] [-hold=BOOL] [-quiet] [-tls-cert FILE -tls-key FILE] [-metrics IP:PORT]", stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "listen on `IP:PORT` (IPv4 or [IPv6])")
	var upstreams stringList
	fs.Var(&upstreams, "upstream", "forward to `URL` (http[s]://host:port[/prefix], a host name standing for all its addresses; with -tcp, HOST:PORT); repeat for several")
	tcp := fs.Bool("tcp", false, "relay TCP connections to the -upstream HOST:PORT instead of proxying HTTP")
	proxyProto := fs.Int("proxy-protocol", 0, "with -tcp, send the upstream a PROXY protocol header of version `V` (1 or 2) with the client's addresses first")
	timeout := fs.Duration("upstream-timeout", 0, "answer 504 when an upstream takes longer than `D` to connect or to send its response head (with -tcp: bounds the connect)")
	balance := fs.String("balance", "rr", "choose the upstream of a request by `MODE`: rr (round robin) or least (least connections)")
	healthPath := fs.String("health-check", "", "check each upstream with a GET of `PATH` (a 2xx or 3xx passes), taking it out while it fails")
	healthInterval := fs.Duration("health-interval", evproxy.DefaultHealthInterval, "time `D` between two health checks of an upstream")
	loops := loopsFlag(fs)
	backend := backendFlag(fs)
	hold := holdFlag(fs)
	tlsf := addTLSFlags(fs, false)
	quiet := fs.Bool("quiet", false, "no access log on stdout")
	metrics := metricsFlag(fs)
	if status, ok := parseFlags(fs, args); !ok {
		return status
	}
	if fs.NArg() > 0 {
		return usageError(fs, "unexpected argument %q", fs.Arg(0))
	}
	ap, status, ok := checkServer(fs, *addr, *loops, tlsf)
	if !ok {
		return status
	}
	if len(upstreams) == 0 {
		return usageError(fs, "-upstream: at least one is needed")
	}
	bal, ok := evproxy.ParseBalance(*balance)
	if !ok {
		return usageError(fs, "-balance: %q is neither rr nor least", *balance)
	}
	if *healthInterval <= 0 {
		return usageError(fs, "-health-interval: %v is not positive", *healthInterval)
	}
	switch {
	case *proxyProto != 0 && *proxyProto != 1 && *proxyProto != 2:
		return usageError(fs, "-proxy-protocol: %d is neither 1 nor 2", *proxyProto)
	case *proxyProto != 0 && !*tcp:
		return usageError(fs, "-proxy-protocol: only with -tcp")
	}
	maddr, status, ok := parseMetrics(fs, *metrics)
	if !ok {
		return status
	}
	var tcpTargets []string
	var p *evproxy.Proxy
	var logs *accessLogs // set before the first request
	if *tcp {
		for _, u := range upstreams {
			// Resolved once, here: evnet dials literal addresses.
			ta, err := net.ResolveTCPAddr("tcp", u)
			if err != nil {
				return usageError(fs, "-upstream: %v", err)
			}
			tcpTargets = append(tcpTargets, ta.AddrPort().String())
		}
	} else {
		cfg := &evproxy.Config{Upstreams: upstreams, Timeout: *timeout, Balance: bal,
			HealthCheck: evproxy.HealthCheck{Path: *healthPath, Interval: *healthInterval},
			ErrorLog:    func(format string, args ...any) { fmt.Fprintf(stderr, "eddy proxy: "+format+"\n", args...) }}
		if !*quiet { // else no AccessLog: no clock reading per request
			cfg.AccessLog = func(e *evproxy.LogEntry) { logs.proxyLog(e) }
		}
		var err error
		if p, err = evproxy.New(cfg); err != nil {
			return usageError(fs, "-upstream: %v", err)
		}
	}

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)

	g, status := newGroup(fs, *loops, *backend, *hold, stderr)
	if g == nil {
		return status
	}
	fail := func(err error) int {
		g.Shutdown(0)
		fmt.Fprintf(stderr, "eddy proxy: %v\n", err)
		return 1
	}
	tlsConfig, err := tlsf.config(g, "proxy", stderr)
	if err != nil {
		return fail(err)
	}
	scheme := "http"
	if tlsConfig != nil {
		scheme = "https"
	}
	if *tcp {
		return runTCPProxy(g, ap, tcpTargets, &evnet.RelayConfig{ConnectTimeout: *timeout, ProxyProtocol: evnet.ProxyProtocol(*proxyProto)},
			tlsConfig, *quiet, maddr, sigs, stdout, stderr)
	}

	srv := &evhttp.Server{
		Handler:      p,
		MaxBodyBytes: -1, // bodies are streamed, never held
		ListenConfig: evnet.ListenConfig{TLS: tlsConfig},
		ErrorLog: func(format string, args ...any) {
			fmt.Fprintf(stderr, "eddy proxy: "+format+"\n", args...)
		},
	}
	if !*quiet {
		logs = newAccessLogs(g, stdout)
	}
	ln, err := srv.ServeGroup(g, "tcp", ap.String())
	var m *metricsServer
	if err == nil {
		m, err = proxyMetrics(g, maddr, srv, p, nil)
	}
	if err != nil {
		srv.Close()
		return fail(err)
	}
	m.announce(stderr, "proxy")
	fmt.Fprintf(stderr, "eddy proxy: listening on %s://%s/ -> %s (%s, %s backend)\n",
		scheme, ln.Addr(), strings.Join(upstreams, " "), count(g.Len(), "loop"), g.Loop(0).Backend())

	caught := <-sigs
	m.close()
	ctx, cancel := context.WithTimeout(context.Background(), proxyDrainTimeout)
	defer cancel()
	drainErr := srv.Shutdown(ctx)
	if logs != nil {
		logs.flushAll()
	}
	p.Close()
	if err := g.Shutdown(0); err != nil {
		fmt.Fprintf(stderr, "eddy proxy: %v\n", err)
		return 1
	}
	if drainErr != nil {
		fmt.Fprintf(stderr, "eddy proxy: requests still in progress after %v were cut\n", proxyDrainTimeout)
	}
	fmt.Fprintf(stderr, "eddy proxy: %v: stopped after %s\n", caught, count(srv.Served(), "request"))
	return 0
}

// runTCPProxy is "eddy proxy -tcp": every connection accepted is relayed
// to the next upstream in turn.
func runTCPProxy(g *evnet.Group, ap netip.AddrPort, targets []string, cfg *evnet.RelayConfig, tlsConfig *evnet.TLSConfig,
	quiet bool, maddr netip.AddrPort, sigs chan os.Signal, stdout, stderr io.Writer) int {
	var next, relays atomic.Uint64
	h := evnet.Handler{
		OnOpen: func(c *evnet.Conn) {
			target := targets[next.Add(1)%uint64(len(targets))]
			start := c.Loop().Now()
			remote := c.RemoteAddr()
			evnet.DialRelay(c, evnet.Dialer{}, "tcp", target, cfg, func(s evnet.RelayStats, err error) {
				relays.Add(1)
				if quiet {
					return
				}
				line := fmt.Sprintf("%s -> %s up %d down %d %s", remote, target, s.AToB, s.BToA,
					c.Loop().Now().Sub(start).Round(time.Microsecond))
				if err != nil {
					line += " err=" + strconv.Quote(err.Error())
				}
				fmt.Fprintln(stdout, line)
			})
		},
		OnData: func(*evnet.Conn, []byte) int { return 0 },
	}
	ln, err := g.Listen("tcp", ap.String(), evnet.ListenConfig{TLS: tlsConfig}, h)
	var m *metricsServer
	if err == nil {
		m, err = proxyMetrics(g, maddr, nil, nil, ln)
	}
	if err != nil {
		g.Shutdown(0)
		fmt.Fprintf(stderr, "eddy proxy: %v\n", err)
		return 1
	}
	m.announce(stderr, "proxy")
	fmt.Fprintf(stderr, "eddy proxy: relaying tcp %s -> %s (%s, %s backend)\n",
		ln.Addr(), strings.Join(targets, " "), count(g.Len(), "loop"), g.Loop(0).Backend())
	caught := <-sigs
	m.close()
	if err := g.Shutdown(proxyDrainTimeout); err != nil {
		fmt.Fprintf(stderr, "eddy proxy: %v\n", err)
		return 1
	}
	fmt.Fprintf(stderr, "eddy proxy: %v: stopped after %s\n", caught, count(relays.Load(), "relay"))
	return 0
}

// proxyLog is evproxy's AccessLog: serve's line, then the upstream, the
// attempts and the error if any.
func (a *accessLogs) proxyLog(e *evproxy.LogEntry) {
	l := a.of(e.Request)
	if l == nil {
		return
	}
	b := appendRequestLine(l.buf, e.Request, e.Status, e.Bytes, e.Elapsed)
	b = append(b, " upstream="...)
	b = append(b, e.Upstream...)
	b = append(b, " attempts="...)
	b = strconv.AppendInt(b, int64(e.Attempts), 10)
	if e.Err != nil {
		b = append(b, " err="...)
		b = strconv.AppendQuote(b, e.Err.Error())
	}
	l.end(b)
}
