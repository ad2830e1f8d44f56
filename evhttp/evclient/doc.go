// Package evclient is an HTTP/1.1 client on an eddy loop: a pool of
// keep-alive connections per host, pipelining, streamed request and
// response bodies with backpressure, redirects, retries, timeouts, and
// protocol upgrades that hand the connection over to another protocol
// (WebSocket, for instance). It runs on the connections of package evnet,
// resolves names with package evdns and reads and writes the wire format
// with evhttp's h1. It speaks http and https (TLS by evnet's layer, with
// crypto/tls: see Config.TLS).
//
// # A request in five lines
//
//	c := evclient.New(loop, nil) // nil: every default
//	c.Get("http://127.0.0.1:8080/", func(resp *evclient.Response, err error) {
//		// on the loop: resp.Status, resp.Header("Content-Type"), resp.Body
//	})
//	loop.Run()
//
// There is no goroutine per request and no lock: the Client dials, writes
// and parses on the loop, and calls the program back there. Do (and Get)
// gathers the whole body into Response.Body, at most Config.MaxBodyBytes;
// Stream delivers the response as it arrives, through the callbacks of a
// Handler. Either returns a Call, the handle to cancel the request, to
// pause the delivery of its body and to write a streamed request body.
//
// # Threading
//
// A Client belongs to one loop. Its methods, and those of its Calls, must
// be called on the loop's goroutine: from a callback, from a function
// given to Loop.Post (the only way in from another goroutine), or before
// the loop runs. Its callbacks run there and must not block; blocking work
// goes to the loop's work pool (Loop.Queue) and comes back by Post. A
// program with several loops makes a Client per loop; they share nothing.
//
// # The pool
//
// Requests to one host (host and port) share its connections. A request
// takes an idle connection of its host if there is one, else a new one
// while the host has fewer than Config.MaxConnsPerHost (dialling, busy and
// idle together), else it waits, in order, for one to come free. A
// connection whose response ended goes back to the pool, unless either
// side said "Connection: close" (Config.DisableKeepAlives says it for every
// request). Config.MaxIdleConnsPerHost and Config.MaxIdleConns bound the
// idle connections kept, the least recently used going first, and
// Config.IdleTimeout closes one idle for that long. An idle connection
// that the server closes is dropped as soon as the loop sees the close.
// Stats counts the connections and requests.
//
// Pooled connections are open descriptors on the loop, so they keep
// Loop.Run from returning: CloseIdle closes them, Close closes the Client
// (every request still in flight fails with ErrClosed).
//
// # Pipelining
//
// With Config.Pipelining, a request that finds no idle connection is
// written on an open connection of its host behind the requests in flight
// there (at most Config.MaxPipeline), before a new connection is dialled;
// responses are matched to requests in order. Only requests that may be
// sent twice are pipelined (idempotent methods, a body given as bytes or
// none, no Expect, no "Connection: close", no upgrade), so that those
// behind a response after which the server closed can be sent again.
//
// # Timeouts
//
// Every timeout runs on the loop's clock (Loop.Now), so a loop with a
// fake clock (package eddytest) tests them without waiting:
//   - Config.ConnectTimeout bounds a connect, name resolution included
//     (ErrConnectTimeout);
//   - Config.HeaderTimeout bounds the wait for the response head once the
//     whole request is written (ErrHeaderTimeout);
//   - Config.Timeout bounds a whole request, from Do to the end of its
//     body, redirects and retries included (ErrTimeout);
//   - Config.IdleTimeout closes a connection idle in the pool;
//   - Config.ExpectContinueTimeout is how long a request with
//     Request.ExpectContinue holds its body back for "100 Continue"
//     before it sends it anyway.
//
// # Redirects and retries
//
// Redirects are followed as net/http follows them, up to
// Config.MaxRedirects (ErrTooManyRedirects beyond; a negative value
// delivers them as responses): 301, 302 and 303 turn the request into a
// GET without body (HEAD stays HEAD); 307 and 308 keep the method and the
// body, unless the body was streamed, which cannot be sent twice: the
// redirect is then the response. Authorization and cookies go only to the
// same host; Referer is set. Response.URL and Response.Redirects tell
// where the answer came from.
//
// A request written on a reused connection that closes before any byte of
// the response arrived, as when the server closed an idle connection at
// the moment the request went out, is sent again on a new connection,
// once, if it may be sent twice (an idempotent method or an
// Idempotency-Key, and no streamed body). Nothing else is retried.
//
// # Errors
//
// A request that fails reports a *Error: the method and URL of the hop
// that failed, wrapping one of the ErrX variables, which wraps the cause
// beneath when there is one (an evnet or evdns error, an errno, an h1
// parse error). Test them with errors.Is and errors.As:
//
//	if errors.Is(err, evclient.ErrConnect) && errors.Is(err, unix.ECONNREFUSED) { ... }
//
// An error found before anything is sent (a bad URL, an invalid header, a
// closed Client) is reported at once: the callback runs before Do or
// Stream returns, which then returns nil.
//
// # Streaming
//
// A request body given as bytes (Request.Body) is sent from where it is,
// as the connection takes it. A streamed one (Request.StreamBody) is
// written by the program as it has it, with the chunked coding:
// Call.Write sends a piece (or holds it until the request is on a
// connection), Call.Full reports that the connection's output queue is
// past its high watermark, Handler.OnWrite runs when it has drained and
// more may be written, and Call.CloseBody ends the body. A producer that
// writes until Full and goes on in OnWrite never queues more than a
// watermark's worth, however slow the server.
//
// A response body given to Stream arrives piece by piece in
// Handler.OnBody, straight from the connection's read buffer (copy what
// must be kept). Call.PauseRead stops the delivery: the connection stops
// reading, its kernel buffers fill and TCP slows the server down, until
// Call.ResumeRead.
//
// # Requests without allocations
//
// A request built as an http.Header and a URL string costs allocations
// of its own: the map, its slices and strings, the URL. A program that
// forwards request after request (evproxy) gives them as bytes instead:
// Request.RawHeader holds field lines ("Name: value" and CR LF), which the
// client checks once and writes as they are, and Request.Target the
// request target, which replaces the URL's path and query, so that the URL
// can be a constant naming the server. Client.StreamCall takes the Call's
// storage from the program, a Call whose request has ended, and keeps the
// response head's buffer of the request before: a keep-alive request on a
// reused Call, with its fields and target in buffers the program keeps,
// allocates nothing (TestStreamCallAllocs; BenchmarkClientRequestHeader
// compares it with an http.Header).
//
// # Protocol upgrades
//
// A request whose Header has "Connection: Upgrade" and an Upgrade field
// asks the server to switch protocols (RFC 9110 §7.8). It is sent with
// Stream and a Handler whose OnUpgrade takes the connection after a 101
// Switching Protocols: the connection leaves the client (its pool, its
// counts, its timeouts; Close does not touch it), the call ends, and the
// program gives the evnet connection to the new protocol's callbacks with
// Conn.SetHandler, whose OnData first gets whatever the server sent right
// after its 101. A server may also ignore the offer and answer as usual.
// This is what a WebSocket client or a proxy relaying an upgrade builds on;
// see Handler.OnUpgrade.
//
// # HTTPS
//
// An https URL is fetched over TLS: the connection is made as for http,
// then evnet's TLS layer runs crypto/tls's handshake on it (on a goroutine
// of its own, for the handshake only) and the records on the loop. The
// certificate is verified against Config.TLS's RootCAs or the system's
// roots, for the URL's host name (sent as SNI) or address; ALPN offers
// http/1.1; client certificates come from Config.TLS; sessions are
// resumed across the connections to a host (a session cache per Client
// unless Config.TLS has one). The pool keeps http and https connections
// to one host apart. A handshake that fails fails the request with
// ErrConnect, wrapping evnet.ErrHandshake and crypto/tls's or x509's
// error (x509.UnknownAuthorityError, x509.HostnameError, ...), which
// errors.As finds.
//
// # Names
//
// URLs with a literal address are dialled directly. Host names are
// resolved by Config.Dial, a DialFunc (usually evdns.Dial with a resolver
// of the program's), or else by Config.Resolver, or else by a resolver the
// Client makes on its loop from the system's resolv.conf and hosts file.
//
// # Why the client does not share the server's types
//
// net/http has one Request and one Header type for both sides. Here the
// client has its own (Request with an http.Header, Response), and shares
// no code with package evhttp's server, which has evhttp.Request and
// evhttp.Header. The reason is lifetime. The server's types are views
// into the loop's read buffer, valid only during a callback, and reused
// for the next request of the connection: that is how a request costs it
// no allocation. A client request is the opposite: the program builds it,
// the client keeps it across retries and redirects (each hop a copy with
// a new URL and filtered fields), and a Response outlives its call, read
// whenever the program likes. Sharing one type would force either copies
// on the server's hot path or view lifetimes on the client's users. So the
// server keeps its views, and the client takes an http.Header in (or
// field lines as bytes, RawHeader, copied from the views by a program that
// has them, as a proxy does) and gives a Response that owns its head (its
// fields read in place, with Header, Values and VisitHeaders, or copied
// into an http.Header by Headers).
// What both sides do share is below them: the wire format (package h1) and
// the ASCII case folding of names and tokens.
package evclient
