package evproxy

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evhttp"
	"github.com/eddyloop/eddy/evhttp/evclient"
	"github.com/eddyloop/eddy/evnet"
)

// DefaultMaxRetries is the default Config.MaxRetries.
const DefaultMaxRetries = 1

// DefaultMaxConnsPerUpstream is the default Config.Client.MaxConnsPerHost
// of a Proxy: the connections to one upstream per loop, a long stream (an
// event stream, a download) holding one for its whole length.
const DefaultMaxConnsPerUpstream = 256

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
	// Upstreams are the base URLs of the servers requests go to, in turn
	// (round robin): "http://127.0.0.1:8080", or with a path prefix that
	// each request's path is appended to ("http://host/api").
	Upstreams []string
	// Timeout bounds the wait for an upstream's response head once the
	// request is written, and the connect to it (zero: the client's
	// defaults); a request that runs out of it is answered 504.
	Timeout time.Duration
	// MaxRetries is how many times an idempotent request without a body
	// is sent again, on a new connection (to the next upstream when there
	// are several), when its upstream could not be reached or dropped it
	// before any byte of a response (default DefaultMaxRetries; negative:
	// none). Nothing is retried once a byte has gone to the client.
	MaxRetries int
	// Via is the pseudonym of the proxy in the Via fields it adds
	// (default DefaultVia).
	Via string
	// Client configures the upstream connections of each loop's
	// evclient.Client (pool sizes, watermarks, TLS to https upstreams).
	// Its HeaderTimeout and ConnectTimeout are replaced by Timeout when
	// Timeout is set; redirects are never followed; its MaxConnsPerHost
	// defaults to DefaultMaxConnsPerUpstream.
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
	// Upstream is the base URL of the last upstream tried ("" if none).
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
	loops     sync.Map // *eddy.Loop -> *loopState
}

// loopState is what a Proxy keeps per loop; loop goroutine only, but for
// all.
type loopState struct {
	p        *Proxy
	l        *eddy.Loop
	backends []*backend                 // those taking requests, in the order of Config.Upstreams
	all      atomic.Pointer[[]*backend] // every backend made on the loop, for Upstreams
	next     int                        // round robin
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
	p.cfg.Client.MaxRedirects = -1
	if p.cfg.Client.MaxConnsPerHost == 0 {
		p.cfg.Client.MaxConnsPerHost = DefaultMaxConnsPerUpstream
	}
	if p.cfg.Timeout > 0 {
		p.cfg.Client.HeaderTimeout = p.cfg.Timeout
		p.cfg.Client.ConnectTimeout = p.cfg.Timeout
	}
	return p, nil
}

// loop returns the state of l, made on first use; on l's goroutine.
func (p *Proxy) loop(l *eddy.Loop) *loopState {
	if v, ok := p.loops.Load(l); ok {
		return v.(*loopState)
	}
	ls := &loopState{p: p, l: l}
	for i, u := range p.upstreams {
		ls.add(i, hostPort(u))
	}
	p.loops.Store(l, ls)
	return ls
}

// add makes a backend for the address hostport of upstream up and puts it
// in the balancing.
func (ls *loopState) add(up int, hostport string) *backend {
	u := ls.p.upstreams[up]
	b := &backend{up: up, addr: hostport, base: u.Scheme + "://" + hostport + u.Path}
	b.client = evclient.New(ls.l, &ls.p.cfg.Client)
	ls.backends = append(ls.backends, b)
	var all []*backend
	if old := ls.all.Load(); old != nil {
		all = slices.Clip(*old)
	}
	all = append(all, b)
	ls.all.Store(&all)
	return b
}

// freshClient returns b's client that keeps no idle connection, made on
// first use.
func (ls *loopState) freshClient(b *backend) *evclient.Client {
	if b.fresh == nil {
		cfg := ls.p.cfg.Client
		cfg.MaxIdleConns = -1
		cfg.MaxIdleConnsPerHost = -1
		b.fresh = evclient.New(ls.l, &cfg)
	}
	return b.fresh
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

// close closes the clients of every backend of the loop.
func (ls *loopState) close() {
	all := ls.all.Load()
	if all == nil {
		return
	}
	for _, b := range *all {
		b.client.Close()
		if b.fresh != nil {
			b.fresh.Close()
		}
	}
}

// ServeHTTP1 forwards the request to an upstream and streams the response
// back, as the package documentation describes. It runs on the loop.
func (p *Proxy) ServeHTTP1(w *evhttp.ResponseWriter, r *evhttp.Request) {
	x := &exchange{p: p, ls: p.loop(r.Loop()), w: w, r: r, start: r.Loop().Now()}
	w.OnDone(x.onDone)
	w.OnDrain(x.onDrain)
	if string(r.Method()) == "CONNECT" {
		w.Header().Set("Allow", "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS")
		x.fail(405, "CONNECT is not proxied")
		return
	}
	x.upgrade = isWebSocket(r.Upgrade())
	x.build()
	x.retryable = !r.HasBody() && idempotent(r.Method()) && !x.upgrade
	if r.HasBody() {
		x.req.StreamBody = true
		r.OnBody(x.onRequestBody)
	} else {
		w.Async()
	}
	x.send()
}
