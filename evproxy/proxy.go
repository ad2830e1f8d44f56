package evproxy

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
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

// loopState is what a Proxy keeps per loop; loop goroutine only.
type loopState struct {
	client *evclient.Client // pooled connections
	fresh  *evclient.Client // keeps no idle connection: for retries
	next   int              // round robin
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
	fresh := p.cfg.Client
	fresh.MaxIdleConns = -1
	fresh.MaxIdleConnsPerHost = -1
	ls := &loopState{client: evclient.New(l, &p.cfg.Client), fresh: evclient.New(l, &fresh)}
	p.loops.Store(l, ls)
	return ls
}

// Close closes the upstream clients of every loop the Proxy has served,
// each on its loop (with Loop.Post), which must still be running: their
// idle connections close, and requests still in flight fail. Call it after
// the server's Shutdown. It may be called from any goroutine.
func (p *Proxy) Close() {
	p.loops.Range(func(k, v any) bool {
		ls := v.(*loopState)
		k.(*eddy.Loop).Post(func() { ls.client.Close(); ls.fresh.Close() })
		p.loops.Delete(k)
		return true
	})
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
