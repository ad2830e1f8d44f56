// Package evproxy is an HTTP/1.1 reverse proxy on eddy loops: a native
// evhttp.Handler, in the manner of net/http/httputil's ReverseProxy, that
// forwards each request to one of its upstreams through an evclient.Client
// of the loop it runs on, and streams the response back, without a
// goroutine or a lock per request.
//
//	p, err := evproxy.New(&evproxy.Config{Upstreams: []string{"http://127.0.0.1:9000"}})
//	srv := &evhttp.Server{Handler: p}
//	srv.ServeGroup(g, "tcp", "127.0.0.1:8080")
//
// # Streaming and backpressure
//
// Both bodies pass through as they come, never gathered. The request body
// is read with Request.OnBody and written upstream with the chunked coding
// (evclient.Request.StreamBody); when the upstream's connection is Full the
// client's body is paused (PauseBody) until the client's call asks for more
// (OnWrite: ResumeBody), so a slow upstream slows the client down. The
// response body is written to the client's ResponseWriter; when that is
// Full the upstream's connection stops being read (Call.PauseRead) until
// the client has drained (OnDrain: ResumeRead), so a slow client slows the
// upstream down and the proxy holds about a watermark's worth per exchange.
// A response of unknown length (chunked, or ending with the connection, as
// text/event-stream is) is flushed piece by piece as it arrives; one with a
// Content-Length keeps it. The trailers an upstream declares in its Trailer
// field are passed on.
//
// # Header fields
//
// The hop-by-hop fields are removed both ways: Connection and every field
// it names, Keep-Alive, Proxy-*, TE, Trailer, Transfer-Encoding and Upgrade
// (and Content-Length, Expect and Host, which each side's framing sets).
// Upstream requests get X-Forwarded-For (the incoming list, if any, with
// the client's address appended), X-Forwarded-Proto and X-Forwarded-Host
// (incoming values replaced), and both directions get a Via entry
// ("1.1 eddy", RFC 9110 §7.6.3) after the incoming ones. The Host field is
// the client's. The other fields go on as they came, in their order, with
// their names as sent and their duplicates.
//
// # Allocations
//
// A proxied keep-alive request allocates nothing once the loop is warm
// (TestProxyAllocs, BenchmarkProxyGetReused). The upstream request is
// written from the bytes of the client's (evclient.Request.RawHeader and
// Target: no http.Header, no URL string), the filtering done on bytes;
// the upstream's response head is copied to the client's with
// evhttp.Header.AddBytes; and the exchange of each request, with its
// evclient.Call (Client.StreamCall), its buffers and its callbacks, is
// reused by the loop's next request once both its sides are over (a few
// dozen kept per loop: a burst's worth would stay taken).
//
// # Errors, timeouts and retries
//
// A request whose upstream cannot be reached, or answers something that is
// not HTTP, is answered 502 Bad Gateway; one whose upstream does not answer
// within Config.Timeout, 504 Gateway Timeout; one that finds no upstream
// connection free (see below), 503 Service Unavailable with Retry-After.
// A request without a body (and not an upgrade) is sent again, on a new
// connection and to another upstream address when there is one, when its
// upstream could not be reached (the request never left: any method), or,
// for an idempotent method, dropped the connection before any byte of a
// response; Config.MaxRetries times at most. evclient also resends such a
// request once, by itself, when a pooled connection turns out to have been
// closed. Nothing is retried once a byte has gone to the client. An
// upstream that fails in the middle of its body has the client's
// connection reset, so that the client sees a cut response, never a whole
// one.
//
// # Upstreams, balancing and limits
//
// Each upstream address has its own keep-alive pool on each loop (an
// evclient.Client). Config.Balance chooses the address of each request:
// RoundRobin takes them in turn, LeastConn the one with the fewest
// requests in flight from the loop (in turn among equals); a retry goes
// to an address the request has not tried when there is one. Choosing
// allocates nothing.
//
// Config.MaxConnsPerUpstream bounds the requests in flight to an address
// from a loop, each holding a connection. A request that finds every
// usable address at its bound waits in the loop's queue, in order, for
// one to come free or an ejected one to come back (its body, if any,
// paused meanwhile), as HAProxy's
// maxconn and maxqueue: at most Config.MaxQueue requests wait, for at
// most Config.QueueTimeout; a request that finds the queue full, or waits
// longer, is answered 503 with "Retry-After: 1". An upgraded (WebSocket)
// connection stops counting once its 101 has come.
//
// # Names
//
// An upstream URL whose host is a name stands for the set of its
// addresses, resolved on each loop with evdns (Config.Resolver, or a
// resolver configured from the system's files): its addresses (the hosts
// file first), then the TTL of its A and AAAA records. When the TTL runs
// out (MinResolveInterval at least; DefaultResolveInterval for a name
// from the hosts file, or after a failed lookup, which keeps the
// addresses known), the name is looked up again: new addresses join the
// balancing, and the addresses gone are retired: they take no new
// request, their requests in flight end normally, and their connections
// close after them (Proxy.Upstreams shows them as Retired). Requests that
// come before a name's first answer wait for it in the queue; those that
// find no address at all are answered 502. An https upstream given by
// name is verified (and sent as SNI) under its name, whatever address it
// is reached at.
//
// # Passive health
//
// A failure is an attempt whose upstream could not be reached (refused,
// unreachable, the connect or the TLS handshake timing out), timed out
// before its response head, answered something that is not HTTP, or
// dropped the connection before the end of the response; with
// Config.Fail5xx, a 5xx answer too. Config.MaxFails failures in a row
// (default 3) eject the address from the loop's balancing for
// Config.EjectTime (10 s), each ejection that follows without a success
// in between lasting twice as long as the one before, up to
// Config.MaxEjectTime (5 minutes), as Envoy's outlier detection does.
// Back from an ejection, the address takes requests again, and one
// failure ejects it again; one success makes it healthy. When every
// address is ejected, requests go to them all the same, in the same way
// (nginx does the same: an upstream that was down may be back, and a
// proxy that refuses every request helps nobody).
//
// # Active health checks
//
// With Config.HealthCheck.Path set, each loop sends a GET of that path to
// each upstream address every Interval (5 s), on a new connection, from
// its first request on; a check fails when it gets another status than
// the expected one (any 2xx or 3xx by default), when the address cannot
// be reached, or when the answer takes longer than Timeout (2 s). Fails
// failed checks in a row mark the address down, Passes passed ones up
// again (one each by default). The checks run on the loop's timers (which
// do not keep Loop.Run from returning) and are not counted among the
// requests. An address takes requests when neither passive health nor the
// checks hold it out; when every address is held out, requests go to
// them all the same, as above.
//
// # Upgrades
//
// A WebSocket upgrade is passed upstream; the upstream's 101 is passed back
// (ResponseWriter.Upgrade), and the two connections are then joined by
// evnet.Relay, with its backpressure and half-close. Any other Upgrade
// (h2c above all, which would let a client talk HTTP/2 past the proxy) is
// not honoured: the field is hop-by-hop, the request goes upstream as a
// plain HTTP/1.1 request, and the answer is the upstream's ordinary one.
// CONNECT is answered 405.
//
// # Figures
//
// Proxy.Upstreams returns the figures of each upstream address (requests,
// failures, ejections, requests in flight, open connections, health),
// summed over the loops, for metrics: any goroutine may call it, at any
// time (the loops write them as atomics, each its own), and it allocates
// nothing when given a slice with room.
//
// # Loops
//
// One Proxy serves any number of loops: each gets its own state, made on
// its first request, so that loops share nothing but the configuration,
// as nginx's workers without a shared zone: its clients (one per upstream
// address), its round-robin position and in-flight counts, its queue, the
// health of each address (a loop ejects an address on its own failures),
// its health checks (with N loops, an address gets N checks an interval)
// and its lookups of upstream names. Close closes the clients and the
// resolvers.
package evproxy
