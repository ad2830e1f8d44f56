package evproxy

import (
	"cmp"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evdns"
	"github.com/eddyloop/eddy/evhttp"
	"github.com/eddyloop/eddy/evhttp/evclient"
	"github.com/eddyloop/eddy/evnet"
)

// DefaultMaxRetries is the default Config.MaxRetries.
const DefaultMaxRetries = 1

// DefaultMaxConnsPerUpstream is the default Config.MaxConnsPerUpstream:
// the requests in flight to one upstream address per loop, each holding a
// connection (a long stream, an event stream or a download, holds one for
// its whole length).
const DefaultMaxConnsPerUpstream = 256

// Defaults of the queue of requests that wait for an upstream connection
// (Config.MaxQueue, Config.QueueTimeout).
const (
	// DefaultMaxQueue is the default Config.MaxQueue.
	DefaultMaxQueue = 1024
	// DefaultQueueTimeout is the default Config.QueueTimeout.
	DefaultQueueTimeout = 10 * time.Second
)

// Defaults of passive health (Config.MaxFails, Config.EjectTime,
// Config.MaxEjectTime): three failures in a row eject an upstream address
// for 10 s, then 20 s, 40 s ... up to 5 minutes while it keeps failing.
const (
	// DefaultMaxFails is the default Config.MaxFails.
	DefaultMaxFails = 3
	// DefaultEjectTime is the default Config.EjectTime.
	DefaultEjectTime = 10 * time.Second
	// DefaultMaxEjectTime is the default Config.MaxEjectTime.
	DefaultMaxEjectTime = 5 * time.Minute
)

// Balance is a way of choosing the upstream of a request.
type Balance int

// The ways of choosing an upstream (Config.Balance).
const (
	// RoundRobin takes the upstream addresses in turn.
	RoundRobin Balance = iota
	// LeastConn takes the address with the fewest requests in flight
	// (from the loop the request came to), in turn among equals.
	LeastConn
)

// String returns "rr" or "least", the names ParseBalance knows.
func (b Balance) String() string {
	if b == LeastConn {
		return "least"
	}
	return "rr"
}

// ParseBalance returns the Balance named s: "rr" (or "round-robin") or
// "least" (or "least-conn"); ok is false for any other name.
func ParseBalance(s string) (b Balance, ok bool) {
	switch s {
	case "rr", "round-robin":
		return RoundRobin, true
	case "least", "least-conn":
		return LeastConn, true
	}
	return RoundRobin, false
}

// DefaultVia is the default Config.Via: the pseudonym the proxy gives
// itself in the Via header fields it adds.
const DefaultVia = "eddy"

// ErrNoUpstream is returned by New when Config.Upstreams is empty.
var ErrNoUpstream = errors.New("evproxy: no upstream")

// ErrUpstreamURL is wrapped by New's error for an upstream that is not an
// http or https URL with a host.
var ErrUpstreamURL = errors.New("evproxy: invalid upstream URL")

// Config holds the settings of a Proxy. The zero value (or a nil *Config)
// is the default of every field but Upstreams, which must name at least one;
// New copies it.
type Config struct {
	// Upstreams are the base URLs of the servers requests go to:
	// "http://127.0.0.1:8080", or with a path prefix that each request's
	// path is appended to ("http://host/api"). An upstream named by a
	// host name stands for all of its addresses (see Resolver).
	Upstreams []string
	// Balance chooses the upstream address of each request: RoundRobin
	// (the default) or LeastConn.
	Balance Balance
	// MaxConnsPerUpstream bounds the requests in flight to one upstream
	// address from one loop, each holding a connection (default
	// DefaultMaxConnsPerUpstream). A request that finds every usable
	// address at its bound waits in the loop's queue.
	MaxConnsPerUpstream int
	// MaxQueue bounds the requests of a loop waiting for an upstream
	// connection (default DefaultMaxQueue; negative: none wait). A
	// request that finds the queue full, or waits longer than
	// QueueTimeout (default DefaultQueueTimeout), is answered 503.
	MaxQueue     int
	QueueTimeout time.Duration
	// MaxFails is the number of failures in a row (see the package
	// documentation) that eject an upstream address from a loop's
	// balancing (default DefaultMaxFails; negative: never). The first
	// ejection lasts EjectTime (default DefaultEjectTime), each one that
	// follows without a success in between twice as long as the one
	// before, up to MaxEjectTime (default DefaultMaxEjectTime). Back from
	// an ejection, one failure ejects the address again.
	MaxFails                int
	EjectTime, MaxEjectTime time.Duration
	// Fail5xx makes a 5xx answer count as a failure for passive health
	// too (it is passed on to the client all the same).
	Fail5xx bool
	// HealthCheck configures active health checks (none by default).
	HealthCheck HealthCheck
	// Resolver, if not nil, returns the resolver of the host names of
	// Upstreams on a loop; it is called once per loop, on the loop, and
	// the Proxy closes what it returns in Close. Without it, each loop
	// gets a resolver configured from the system's resolv.conf and hosts
	// file (read then).
	Resolver func(l *eddy.Loop) *evdns.Resolver
	// ErrorLog, if not nil, is told of the lookups of upstream names that
	// fail, on the loop.
	ErrorLog func(format string, args ...any)
	// Timeout bounds the wait for an upstream's response head once the
	// request is written, and the connect to it (zero: the client's
	// defaults); a request that runs out of it is answered 504. A connect
	// that times out is retried (see MaxRetries), each attempt with a
	// Timeout of its own.
	Timeout time.Duration
	// MaxRetries is how many times a request without a body is sent
	// again, on a new connection (to an upstream address it has not tried
	// when there is one), when its upstream could not be reached, or, for
	// an idempotent method, dropped it before any byte of a response
	// (default DefaultMaxRetries; negative: none). Nothing is retried once
	// a byte has gone to the client.
	MaxRetries int
	// Via is the pseudonym of the proxy in the Via fields it adds
	// (default DefaultVia).
	Via string
	// Client configures the evclient.Client of each upstream address on
	// each loop (idle pool, watermarks, TLS to https upstreams). Its
	// HeaderTimeout and ConnectTimeout are replaced by Timeout when
	// Timeout is set; redirects are never followed; no User-Agent of its
	// own is sent (the client's goes upstream, or none); its
	// MaxConnsPerHost defaults to MaxConnsPerUpstream.
	Client evclient.Config
	// Relay configures the tunnels of upgraded (WebSocket) connections.
	Relay evnet.RelayConfig
	// AccessLog, if not nil, is called once per request when its exchange
	// is over, on the loop.
	AccessLog func(e *LogEntry)
}

// LogEntry describes a proxied exchange to Config.AccessLog. It and its
// Request are valid only during the call.
type LogEntry struct {
	// Request is the client's request.
	Request *evhttp.Request
	// Upstream is the URL prefix of the last upstream address tried, with
	// the address ("http://10.0.0.7:8080/api"), or "" if none was.
	Upstream string
	// Status is the status sent to the client (0 if none), Bytes the body
	// bytes sent.
	Status int
	Bytes  int64
	// Attempts is the number of times the request was sent upstream.
	Attempts int
	// Elapsed is the time from the handler's start to the end of the
	// exchange.
	Elapsed time.Duration
	// Err is why the exchange did not end cleanly: an upstream error (a
	// *evclient.Error) or the client's connection closing; nil otherwise.
	Err error
}

// Proxy is a reverse proxy: an evhttp.Handler that forwards each request
// to an upstream and streams its response back. It may serve any number of
// loops at once (an evhttp.Server's ServeGroup): each loop gets its own
// upstream clients, made on first use. See the package documentation.
type Proxy struct {
	cfg       Config
	upstreams []*url.URL
	clients   []evclient.Config // of each upstream's addresses
	loops     sync.Map          // *eddy.Loop -> *loopState
	via10     string            // "1.0 " and Config.Via: the Via entry of an HTTP/1.0 hop
	via11     string            // "1.1 " and Config.Via
}

// loopState is what a Proxy keeps per loop; loop goroutine only, but for
// all.
type loopState struct {
	p        *Proxy
	l        *eddy.Loop
	backends []*backend                 // those taking requests, in the order of Config.Upstreams
	all      atomic.Pointer[[]*backend] // every backend made on the loop, for Upstreams
	next     int                        // round robin

	qhead, qtail *exchange // waiting for room
	qlen         int
	qtimer       eddy.Timer
	dispatching  bool

	resolving int // names being resolved for the first time

	hc       eddy.Timer // active health checks
	checking bool       // a round of checks is in progress

	names  []*name         // the upstreams given by host name
	dns    *evdns.Resolver // made on first use
	closed bool

	free    []*exchange // for reuse (getExchange, recycle)
	freeCap int         // the bound on len(free): minFree to maxFree
	freeLow int         // the fewest in free since the span began
	gets    int         // requests in the span (trimFree)
	entry   LogEntry    // the AccessLog's, reused
}

// New returns a Proxy configured by cfg.
func New(cfg *Config) (*Proxy, error) {
	p := &Proxy{}
	if cfg != nil {
		p.cfg = *cfg
		p.cfg.Upstreams = append([]string(nil), cfg.Upstreams...)
	}
	if len(p.cfg.Upstreams) == 0 {
		return nil, ErrNoUpstream
	}
	for _, s := range p.cfg.Upstreams {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("%w: %q", ErrUpstreamURL, s)
		}
		u.Path = strings.TrimSuffix(u.Path, "/")
		u.RawPath = ""
		p.upstreams = append(p.upstreams, u)
	}
	if p.cfg.MaxRetries == 0 {
		p.cfg.MaxRetries = DefaultMaxRetries
	}
	if p.cfg.Via == "" {
		p.cfg.Via = DefaultVia
	}
	p.via10, p.via11 = "1.0 "+p.cfg.Via, "1.1 "+p.cfg.Via
	c := &p.cfg
	// Zero means the default; so does a negative value where it means
	// nothing else.
	c.MaxConnsPerUpstream = cmp.Or(max(c.MaxConnsPerUpstream, 0), DefaultMaxConnsPerUpstream)
	c.MaxQueue = cmp.Or(c.MaxQueue, DefaultMaxQueue)
	c.QueueTimeout = cmp.Or(max(c.QueueTimeout, 0), DefaultQueueTimeout)
	c.MaxFails = cmp.Or(c.MaxFails, DefaultMaxFails)
	c.EjectTime = cmp.Or(max(c.EjectTime, 0), DefaultEjectTime)
	c.MaxEjectTime = max(cmp.Or(c.MaxEjectTime, DefaultMaxEjectTime), c.EjectTime)
	if c.HealthCheck.Path != "" {
		c.HealthCheck = c.HealthCheck.withDefaults()
	}
	c.Client.MaxRedirects = -1
	c.Client.UserAgent = "-" // the client's own goes upstream, or none
	c.Client.MaxConnsPerHost = cmp.Or(c.Client.MaxConnsPerHost, c.MaxConnsPerUpstream)
	if p.cfg.Timeout > 0 {
		p.cfg.Client.HeaderTimeout = p.cfg.Timeout
		p.cfg.Client.ConnectTimeout = p.cfg.Timeout
	}
	for _, u := range p.upstreams {
		cc := p.cfg.Client
		if _, err := netip.ParseAddr(u.Hostname()); err != nil && u.Scheme == "https" && (cc.TLS == nil || cc.TLS.ServerName == "") {
			// Reached by address, verified by name.
			if cc.TLS == nil {
				cc.TLS = &tls.Config{}
			} else {
				cc.TLS = cc.TLS.Clone()
			}
			cc.TLS.ServerName = u.Hostname()
		}
		p.clients = append(p.clients, cc)
	}
	return p, nil
}

// loop returns the state of l, made on first use; on l's goroutine.
func (p *Proxy) loop(l *eddy.Loop) *loopState {
	if v, ok := p.loops.Load(l); ok {
		return v.(*loopState)
	}
	ls := &loopState{p: p, l: l}
	ls.qtimer.Init(ls.onQueueTimer, 0, 0)
	for i, u := range p.upstreams {
		if _, err := netip.ParseAddr(u.Hostname()); err == nil {
			ls.add(i, hostPort(u))
		} else {
			ls.addName(i)
		}
	}
	if p.cfg.HealthCheck.Path != "" {
		ls.startChecks()
	}
	p.loops.Store(l, ls)
	return ls
}

// add makes a backend for the address hostport of upstream up and puts it
// in the balancing.
func (ls *loopState) add(up int, hostport string) *backend {
	u := ls.p.upstreams[up]
	b := &backend{up: up, addr: hostport, base: u.Scheme + "://" + hostport + u.Path}
	b.client = evclient.New(ls.l, &ls.p.clients[up])
	ls.backends = append(ls.backends, b)
	var all []*backend
	if old := ls.all.Load(); old != nil {
		all = slices.Clip(*old)
	}
	all = append(all, b)
	ls.all.Store(&all)
	return b
}

// allBackends returns every backend made on the loop, retired ones
// included.
func (ls *loopState) allBackends() []*backend {
	if all := ls.all.Load(); all != nil {
		return *all
	}
	return nil
}

// freshClient returns b's client that keeps no idle connection, made on
// first use.
func (ls *loopState) freshClient(b *backend) *evclient.Client {
	if b.fresh == nil {
		cfg := ls.p.clients[b.up]
		cfg.MaxIdleConns = -1
		cfg.MaxIdleConnsPerHost = -1
		b.fresh = evclient.New(ls.l, &cfg)
	}
	return b.fresh
}

// via returns the Via entry of a hop of HTTP/1.minor.
func (p *Proxy) via(minor int) string {
	if minor == 0 {
		return p.via10
	}
	return p.via11
}

// hostPort returns u's host and port, the scheme's port if it has none.
func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	if u.Scheme == "https" {
		return net.JoinHostPort(u.Hostname(), "443")
	}
	return net.JoinHostPort(u.Hostname(), "80")
}

// Close closes the upstream clients of every loop the Proxy has served,
// each on its loop (with Loop.Post), which must still be running: their
// idle connections close, and requests still in flight fail. Call it after
// the server's Shutdown. It may be called from any goroutine.
func (p *Proxy) Close() {
	p.loops.Range(func(k, v any) bool {
		ls := v.(*loopState)
		k.(*eddy.Loop).Post(ls.close)
		p.loops.Delete(k)
		return true
	})
}

// close closes the clients of every backend of the loop, and its
// resolver.
func (ls *loopState) close() {
	ls.closed = true
	ls.qtimer.Stop()
	ls.hc.Stop()
	for _, n := range ls.names {
		n.timer.Stop()
	}
	if ls.dns != nil {
		ls.dns.Close()
	}
	for _, b := range ls.allBackends() {
		b.client.Close()
		if b.fresh != nil {
			b.fresh.Close()
		}
	}
}

// ServeHTTP1 forwards the request to an upstream and streams the response
// back, as the package documentation describes. It runs on the loop.
func (p *Proxy) ServeHTTP1(w *evhttp.ResponseWriter, r *evhttp.Request) {
	x := p.loop(r.Loop()).getExchange()
	x.w, x.r, x.start = w, r, r.Loop().Now()
	w.OnDone(x.onDoneFn)
	w.OnDrain(x.onDrainF)
	if string(r.Method()) == "CONNECT" {
		w.Header().Set("Allow", "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS")
		x.fail(405, "CONNECT is not proxied")
		return
	}
	x.upgrade = isWebSocket(r.Upgrade())
	x.build()
	x.replayable = !r.HasBody() && !x.upgrade
	x.idempotent = idempotent(r.Method())
	if r.HasBody() {
		x.req.StreamBody = true
		r.OnBody(x.onBodyFn)
	} else {
		w.Async()
	}
	x.send()
}
