// Package evhttp is an HTTP/1.1 server on eddy loops, on the connections
// of package evnet, with package h1 for the wire format. It has four
// parts:
//
//   - the server core: Server, and the native handlers it calls on the
//     loop (Handler, Request, ResponseWriter), which allocate nothing
//     once a connection is warm;
//   - the adapter (Adapt), which serves a standard http.Handler on a
//     bounded pool of goroutines;
//   - FileServer, which serves a directory with sendfile(2), with
//     conditional and range requests;
//   - protocol upgrades (Request.Upgrade, ResponseWriter.Upgrade), which
//     hand a connection over to another protocol, such as WebSocket.
//
// The HTTP client is not in this package: it is
// github.com/eddyloop/eddy/evhttp/evclient.
//
// # The server in five lines
//
//	srv := &evhttp.Server{Handler: evhttp.HandlerFunc(func(w *evhttp.ResponseWriter, r *evhttp.Request) {
//		w.Header().Set("Content-Type", "text/plain")
//		w.WriteString("Hello, World!")
//	})}
//	ln, err := srv.Serve(loop, "tcp", "127.0.0.1:8080") // or srv.ServeGroup(group, ...)
//	...
//	loop.Run()
//
// There is no goroutine per connection and none per request: the handler
// runs on the loop that owns the connection, as a callback, and must not
// block (blocking work goes to the loop's work pool, Loop.Queue, and the
// response is finished when it comes back). A request served this way
// allocates nothing once the connection is warm: the Request and
// ResponseWriter are reused, the head is parsed in place, the response
// head is written into a buffer the loop reuses, and header fields are
// kept in a slice that keeps its storage (fields that come as bytes, as a
// proxy copies them from an upstream's head, are copied by
// Header.AddBytes into storage kept as well).
//
// # The handler model
//
// ServeHTTP1(w, r) is called once per request. If it returns without
// calling w.Async (or r.OnBody, r.ReadAll, which imply it), the response
// ends when it returns: this is the synchronous case, and the body it
// wrote gets a Content-Length. Otherwise the handler keeps w and ends the
// response later with w.End, from any callback of the same loop: a
// timer, a function given to Loop.Post, the done callback of a work item,
// a body callback.
//
// w and r are valid until the exchange is over, which w.OnDone reports;
// they are then reused for another request. The byte slices a Request
// returns (Method, Target, Header...) are views of the request head,
// valid as long as r: compare them without copying (a switch on
// string(r.Method()) allocates nothing) and copy what must outlive the
// exchange.
//
// # Request bodies
//
// The body is read only when the handler asks for it: r.OnBody(fn) gets
// it piece by piece as it arrives (the last call has io.EOF), r.ReadAll(fn)
// gets it whole. r.PauseBody stops the connection's reading until
// r.ResumeBody, which slows a fast client down instead of buffering. A
// body longer than Server.MaxBodyBytes is refused with 413; a malformed
// chunked body with 400; a body that stops arriving for BodyTimeout with
// 408; the body callback is told (see BodyFunc).
//
// Expect: 100-continue is answered when the handler asks for the body:
// calling OnBody or ReadAll sends "100 Continue" if the response has not
// started. A handler that answers without asking (a 401, a 413) sends no
// 100 Continue, and the connection is closed after its response, since
// the client may or may not send the body then. A body the handler does
// not ask for is read and dropped once the response ends, if it is short
// (256 KiB); a longer one closes the connection instead.
//
// # Responses
//
// The head is sent at the first of: the body outgrowing a 16 KiB buffer,
// Flush, End, a Write after SetContentLength. A response that ends within
// the buffer is sent with a Content-Length; a longer one without a
// declared length is chunked for HTTP/1.1 clients and delimited by the
// connection's end for HTTP/1.0 ones. An answer to HEAD has the same
// head as the answer to GET (the body the handler writes is counted for
// the Content-Length and dropped). Statuses 1xx (but 101) are sent as
// interim responses when WriteHeader is called with them; 204 and 304
// have no body. Date is added, formatted once per second per loop, and
// Server if Server.Name is set.
//
// Write never blocks. A handler that streams a large response writes
// until w.Full reports the connection's output queue over its high
// watermark, and goes on in the function set with w.OnDrain: memory then
// stays bounded whatever the client's speed.
//
// # Pipelining
//
// A connection's requests are parsed as they arrive and their handlers
// called in order, up to Server.MaxPipelined in flight (not yet fully
// answered) at once; the responses leave strictly in request order, a
// response that is ready early waiting in a buffer of its own behind the
// earlier ones. The responses produced while the connection's input is
// being handled (the common, synchronous case) are gathered and written
// with one system call: 16 pipelined GETs cost one read and one write.
//
// # Connections
//
// Keep-alive is the default for HTTP/1.1, and for HTTP/1.0 with
// "Connection: keep-alive". Connection: close from the client, from the
// handler (w.Header().Set("Connection", "close")), an error, or Shutdown
// make the response say "Connection: close", and the server closes the
// connection after it: it shuts down its sending side, then drops what
// the client still sends until the client closes (or for half a second),
// so that the response is not destroyed by a reset. Requests pipelined
// behind a response that closes are not answered (their exchanges end
// with ErrConnClosing).
//
// The states of a connection, reported to Server.ConnState:
//
//	state    what the connection does                      read timeout
//	------   ---------------------------------------------  ---------------------------------------
//	new      accepted, waiting for its first request        HeaderTimeout from the accept
//	active   receiving a head, running a handler, reading   HeaderTimeout from a head's first byte,
//	         a body, or writing a response                   BodyTimeout between body reads
//	idle     kept alive between requests                    IdleTimeout
//	closed   closed; the last state                         -
//	hijacked left HTTP (Upgrade, Hijack); the last state     -
//
// A head that does not arrive whole within HeaderTimeout gets 408 and
// the connection is closed, however steadily its bytes trickle in
// (slowloris); a connection that never sends a byte is closed. Output
// the client does not read for WriteTimeout closes the connection.
//
// # HTTPS
//
// Set the Server's ListenConfig.TLS (an evnet.TLSConfig with a
// crypto/tls Config) and it serves HTTPS: evnet runs TLS between the
// socket and the server, with the standard crypto/tls, the handshake on a
// bounded goroutine and the records on the loop, so that nothing in this
// package changes but what HTTP says about TLS: ALPN offers http/1.1 and
// http/1.0 unless the Config names its protocols, a plain HTTP request to
// the TLS port is answered 400, and Request.Conn().TLSState() (or
// http.Request.TLS through the adapter) tells the version, the
// negotiated protocol and the client's certificates.
//
// # Errors
//
// A request the parser refuses is answered with the status its fault
// calls for (400 for malformed or ambiguous framing, such as both
// Transfer-Encoding and Content-Length; 413, 414, 417, 431, 501, 505) and
// "Connection: close", and the connection is closed after it. A handler
// that panics is logged (Server.ErrorLog) with its stack; the client gets
// 500 if the head was not sent yet, and the connection is closed.
//
// # Shutting down
//
// Shutdown (from another goroutine) or StartShutdown (from anywhere,
// without waiting) stop the listeners, close the idle connections at
// once, let the requests in progress finish (their responses say
// Connection: close) and close their connections afterwards; the
// connections left at the deadline are reset. Close resets everything
// at once.
//
// # Several cores
//
// ServeGroup serves on every loop of an evnet.Group, with a listener per
// loop (SO_REUSEPORT) for TCP: a connection stays on the loop that
// accepted it, and each loop has its own buffers, pools and Date cache,
// so that loops share nothing but the Server's configuration.
//
// # The special problem of keeping a ResponseWriter
//
// A ResponseWriter is reused once its exchange is over. A handler that
// finishes from a timer must stop the timer in OnDone, which runs when
// the exchange ends for any reason, the client's leaving included; after
// OnDone, w belongs to another request. An exchange that ended early
// (the connection closed, an error) is not reused: its methods go on
// failing with the error that ended it, so that a late callback is
// harmless, but it should still stop.
//
// # The adapter: standard handlers
//
// Adapt(h, opts) serves a standard http.Handler: the loop parses the
// request and builds its *http.Request, a goroutine of a bounded pool
// runs h.ServeHTTP, and its writes cross back to the loop in batches.
// http.Flusher, http.Hijacker, http.ResponseController and request
// contexts canceled when the client goes away work as with net/http;
// a TLS connection cannot be hijacked (its TLS state stays on the loop),
// and UpgradeAdapted switches a connection, TLS or not, to a protocol
// handled on the loop, as ResponseWriter.Upgrade does. A
// goroutine is held only while a request runs: an idle keep-alive
// connection holds none, and a request that finds the pool busy and its
// queue full (AdapterConfig.QueueLen) is answered 503 at once. A
// response that fits in the write buffer and is not flushed goes out in
// one write; requests pipelined behind a running one are parsed ahead,
// and the worker that finishes a response goes straight on to the next,
// so a pipelined burst costs one hand-off, not one per request. The cost
// that stays is a hand-off between goroutines per exchange and the
// allocations of net/http's types (11 per small request in
// BenchmarkAdaptPlaintext): the native handler is for the hot paths.
//
// # FileServer and SendFile
//
// ResponseWriter.SendFile hands a region of an open file to the
// connection, after the head and the bytes written before it: the
// connection sends it with sendfile(2), so that a large file costs no
// memory and a slow client holds no buffer. FileServer serves a directory
// with it: index files, Content-Type, Last-Modified and ETag, conditional
// and Range requests, no path out of the directory; files are opened on
// the work pool and kept open per loop for a second, so that a popular
// file is answered on the loop at once.
//
// # Protocol upgrades
//
// r.Upgrade() returns the protocols a client offers to switch to
// ("websocket"). w.Upgrade(proto, h) accepts one: the server answers
// "101 Switching Protocols", after the responses to the requests before
// it, and hands the connection over to h, the callbacks of an evnet
// connection, which get the bytes the client sent after the request
// first; the server then forgets the connection (no timeouts, no
// Shutdown) and leaves it to h, its Context included. Nothing after an
// upgrade request is parsed as HTTP until the handler has answered it,
// with a 101 or, ignoring the offer, with any other response, after which
// HTTP goes on.
package evhttp
