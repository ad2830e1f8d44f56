package evclient

import (
	"crypto/tls"
	"time"

	"github.com/eddyloop/eddy/evdns"
	"github.com/eddyloop/eddy/evnet"
)

// Defaults of the Config fields.
const (
	// DefaultMaxConnsPerHost is the default Config.MaxConnsPerHost.
	DefaultMaxConnsPerHost = 16
	// DefaultMaxIdleConns is the default Config.MaxIdleConns.
	DefaultMaxIdleConns = 128
	// DefaultIdleTimeout is the default Config.IdleTimeout, as
	// net/http's DefaultTransport.
	DefaultIdleTimeout = 90 * time.Second
	// DefaultConnectTimeout is the default Config.ConnectTimeout.
	DefaultConnectTimeout = 30 * time.Second
	// DefaultExpectContinueTimeout is the default
	// Config.ExpectContinueTimeout, as net/http's DefaultTransport.
	DefaultExpectContinueTimeout = time.Second
	// DefaultMaxRedirects is the default Config.MaxRedirects,
	// as net/http's.
	DefaultMaxRedirects = 10
	// DefaultMaxBodyBytes is the default Config.MaxBodyBytes.
	DefaultMaxBodyBytes = 64 << 20
	// DefaultMaxPipeline is the default Config.MaxPipeline.
	DefaultMaxPipeline = 8
	// DefaultUserAgent is the User-Agent sent when neither the
	// Config nor the request sets one.
	DefaultUserAgent = "eddy-evclient/1.1"
)

// DialFunc connects to hostport ("name:port") for a Client, which
// uses it for URLs whose host is a name. It has the contract of evdns.Dial,
// which is what it is meant to wrap (Happy Eyeballs over the loop's
// resolver): done runs once on the loop, with the connection before the
// connection's OnOpen, or with an error and a nil connection; h serves the
// connection; cancel stops the dial, after which done never runs. done may
// run before the function returns. timeout bounds the dial (the Client
// also enforces Config.ConnectTimeout on its own).
//
// The usual value, for a *evdns.Resolver r:
//
//	func(hostport string, timeout time.Duration, h evnet.Handler, done func(*evnet.Conn, error)) func() bool {
//		return evdns.Dial(r, "tcp", hostport, timeout, h, done).Cancel
//	}
type DialFunc func(hostport string, timeout time.Duration, h evnet.Handler, done func(*evnet.Conn, error)) (cancel func() bool)

// Config holds the settings of a Client. The zero value (or a nil
// *Config) is the default of every field; it is copied by New.
type Config struct {
	// MaxConnsPerHost bounds the connections to one host (scheme, host
	// and port), dialling, busy and idle together (default
	// DefaultMaxConnsPerHost). Requests beyond it wait, in order,
	// for a connection of the host to come free.
	MaxConnsPerHost int
	// MaxIdleConns bounds the idle connections kept over all hosts
	// (default DefaultMaxIdleConns); the least recently used one is
	// closed to make room. MaxIdleConnsPerHost bounds those of one host
	// (default MaxConnsPerHost). A negative value keeps none.
	MaxIdleConns, MaxIdleConnsPerHost int
	// IdleTimeout closes a connection that stayed idle that long (default
	// DefaultIdleTimeout; negative: never).
	IdleTimeout time.Duration
	// DisableKeepAlives sends "Connection: close" and uses each connection
	// for one request.
	DisableKeepAlives bool
	// Pipelining lets a request that finds no idle connection be written
	// on an open connection of its host behind the requests in flight
	// there, before a new connection is dialled; responses are matched to
	// requests in order. Only requests that may be retried are pipelined:
	// idempotent methods, a body given as bytes (or none), no Expect, no
	// "Connection: close". Off by default, as in every browser.
	Pipelining bool
	// MaxPipeline bounds the requests in flight on one connection with
	// Pipelining (default DefaultMaxPipeline).
	MaxPipeline int
	// ConnectTimeout bounds a connect, name resolution and the TLS
	// handshake included (default
	// DefaultConnectTimeout; negative: none).
	ConnectTimeout time.Duration
	// HeaderTimeout bounds the wait for the response head once the whole
	// request is written (zero: none), as net/http's
	// ResponseHeaderTimeout.
	HeaderTimeout time.Duration
	// Timeout bounds a whole request, from Do to the end of the body,
	// redirects and retries included (zero: none).
	Timeout time.Duration
	// ExpectContinueTimeout is how long a request with
	// Request.ExpectContinue waits for "100 Continue" before it
	// sends its body anyway (default DefaultExpectContinueTimeout).
	ExpectContinueTimeout time.Duration
	// MaxRedirects is the number of redirects followed before a request
	// fails with ErrTooManyRedirects (default
	// DefaultMaxRedirects); negative means redirects are not
	// followed but delivered as the response.
	MaxRedirects int
	// MaxBodyBytes bounds a body gathered by Do (default
	// DefaultMaxBodyBytes); Stream has no limit.
	MaxBodyBytes int64
	// MaxHeaderBytes bounds a response head (default package h1's 64 KiB).
	MaxHeaderBytes int
	// UserAgent is the User-Agent of requests that set none (default
	// DefaultUserAgent; "-" sends none).
	UserAgent string
	// Dial connects to hosts given by name (see DialFunc). Literal
	// addresses are dialled directly with evnet. Without it, host names
	// are resolved with Resolver and connected to with evdns.Dial (Happy
	// Eyeballs).
	Dial DialFunc
	// Resolver resolves host names when Dial is nil. Without it, the
	// Client makes its own evdns.Resolver on its loop when it first needs
	// one, configured from the system's resolv.conf and hosts file (read
	// then, once), and closes it in Close.
	Resolver evdns.HostResolver
	// Conn holds the evnet options of the connections (watermarks, limits).
	// Its IdleTimeout is ignored (see IdleTimeout above).
	Conn evnet.ConnConfig

	// TLS configures the https connections: RootCAs (nil: the system's
	// roots), InsecureSkipVerify, Certificates or GetClientCertificate
	// for client certificates, MinVersion (TLS 1.2 when 0), and the
	// rest of crypto/tls's client settings. The Client copies it; unless
	// ServerName is set, it sends and verifies each URL's host name (a
	// literal address is verified as an IP address, and sent no SNI). It
	// offers "http/1.1" by ALPN unless NextProtos is
	// set, and, when ClientSessionCache is nil, keeps one of its own so
	// that connections to a host resume its TLS sessions. Nil means a
	// zero Config with those additions.
	TLS *tls.Config
	// TLSHandshakeTimeout bounds a TLS handshake, after the connect
	// (default evnet.DefaultHandshakeTimeout; negative: none). A
	// handshake that fails or times out fails the dial (ErrConnect).
	TLSHandshakeTimeout time.Duration
}

func (cfg Config) withDefaults() Config {
	if cfg.MaxConnsPerHost <= 0 {
		cfg.MaxConnsPerHost = DefaultMaxConnsPerHost
	}
	if cfg.MaxIdleConns == 0 {
		cfg.MaxIdleConns = DefaultMaxIdleConns
	}
	if cfg.MaxIdleConnsPerHost == 0 {
		cfg.MaxIdleConnsPerHost = cfg.MaxConnsPerHost
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.MaxPipeline <= 0 {
		cfg.MaxPipeline = DefaultMaxPipeline
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	if cfg.ExpectContinueTimeout <= 0 {
		cfg.ExpectContinueTimeout = DefaultExpectContinueTimeout
	}
	if cfg.MaxRedirects == 0 {
		cfg.MaxRedirects = DefaultMaxRedirects
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	switch cfg.UserAgent {
	case "":
		cfg.UserAgent = DefaultUserAgent
	case "-":
		cfg.UserAgent = ""
	}
	cfg.Conn.IdleTimeout = 0
	tc := &tls.Config{}
	if cfg.TLS != nil {
		tc = cfg.TLS.Clone()
	}
	if len(tc.NextProtos) == 0 {
		tc.NextProtos = []string{"http/1.1"}
	}
	if tc.ClientSessionCache == nil {
		tc.ClientSessionCache = tls.NewLRUClientSessionCache(0)
	}
	cfg.TLS = tc
	return cfg
}
