// Package evnet runs stream connections on an eddy loop: TCP (IPv4, IPv6,
// dual-stack) and Unix listeners, dialled and adopted connections, with
// buffering, backpressure, half-close and timeouts. It is eddy's answer to
// libevent's bufferevents and libuv's streams.
//
// Everything runs on the loop's goroutine: Listen, Dial, Adopt and every
// method of Listener and Conn must be called there (from a callback, from
// a function given to Loop.Post, or before the loop runs), and the
// callbacks of Handler run there, one at a time, and must not block.
//
// # Data path
//
// A readable connection is read into one buffer that all the connections
// of a loop share (ReadBufferSize bytes), and the bytes are handed to
// Handler.OnData, which returns how many it consumed. Only what it leaves
// is copied into the connection, and given again, followed by the next
// bytes, in the next call: a connection that is idle holds no read buffer.
// Reads are capped per readiness event, so that one fast peer cannot
// starve the others.
//
// Conn.Write never blocks. With an empty output queue it makes one write
// system call; what the kernel does not take is copied into the queue,
// which is flushed with writev when the socket is writable. Write interest
// is only asked of the kernel while the queue is not empty. Bytes are
// never lost, reordered or duplicated by a partial write.
//
// Conn.SendFile queues a region of a file in the same queue, in order
// with the bytes written before and after it, and sends it with
// sendfile(2) (or pread and write where sendfile is missing or refuses the
// descriptors): the file's bytes never pass through the process, and
// count for the watermarks below as long as they are not sent.
//
// # Backpressure
//
// The output queue has a high and a low watermark (ConnConfig.HighWater and
// LowWater): Full reports that the queue is over the high mark, and
// Handler.OnDrain runs when it falls back to the low mark. A producer stops
// at Full and resumes in OnDrain; a proxy or an echo server pauses reading
// from its source (PauseRead) and resumes it in OnDrain (ResumeRead), which
// makes a slow reader slow down the writer instead of making memory grow.
// ConnConfig.MaxBuffered is a hard cap: a connection whose queue (or
// unconsumed input) would grow past it is closed with ErrOverflow. The
// kernel's own buffers are set with ConnConfig.ReadBuffer and WriteBuffer,
// before the socket connects or listens: a TCP receive buffer made smaller
// after the handshake (Conn.SetReadBuffer) can stall the peer.
//
// # Callback order
//
// For each connection the callbacks run in this order; OnClose runs
// exactly once, whatever happens:
//
//	callback   when                                        how often
//	--------   -----------------------------------------   ----------------------
//	OnOpen     accepted, adopted, or dial connected         once (never if a dial or a TLS handshake fails)
//	           (TLS: once the handshake is done)
//	OnData     bytes arrived (or ResumeRead or SetHandler   zero or more times
//	           with leftovers)
//	OnDrain    queue fell to LowWater after being Full      zero or more times, between OnData calls
//	OnTimer    the time set with SetTimer came              once per SetTimer that rings
//	OnEOF      the peer shut down writing (if set)          at most once per handler, after its last OnData
//	OnClose    the descriptor is closed, with the reason    exactly once, last
//
// A callback may call any method of its connection, Close and Abort
// included: if the connection closes during one of its own callbacks,
// OnClose runs right after that callback returns. Closing a connection
// from elsewhere (a timer, another connection's callback) runs its
// OnClose before Close or Abort returns.
//
// # Switching protocols
//
// Conn.SetHandler hands an open connection over to another Handler, as
// after an HTTP upgrade or a STARTTLS-like switch: from the next callback
// on, the events are the new handler's. Its OnOpen is not called (the
// connection is open already); the input the old handler left
// unconsumed is given to its OnData without waiting for the peer, an
// EOF that came before the switch is reported to it after that input,
// and OnDrain and OnClose are its own. The Context stays as it was, for
// the new protocol to replace. A Group keeps counting a connection
// whose handler was replaced.
//
// # Closing
//
// Close is graceful: reading stops, the queue is flushed, then the
// descriptor is closed (reason ErrLocalClose). CloseWrite shuts down the
// sending side once the queue is flushed and keeps reading. Abort resets
// the connection at once (SO_LINGER 0; reason ErrAborted). When the peer
// shuts down its side, the connection is closed after its queue is flushed
// (reason ErrEOF), unless Handler.OnEOF is set. Kernel errors close the
// connection with a reason that wraps the errno (and ErrReset for
// ECONNRESET and EPIPE). A Conn used after it closed returns ErrClosed and
// never touches the descriptor number again, which the system may already
// have given to another descriptor.
//
// Closing the loop (eddy.Loop.Close) closes everything evnet has on it:
// each connection at once with the reason eddy.ErrClosed (reset if output
// was still queued, since it can no longer be sent), each listener, and
// each PacketConn (OnClose with eddy.ErrClosed). A Dial or Listen from
// those OnClose callbacks fails: the loop is closed by then.
//
// # Timeouts
//
// SetIdleTimeout and SetWriteTimeout (or ConnConfig.IdleTimeout and
// WriteTimeout) close a connection with ErrTimeout. They cost no timer or
// goroutine per connection: each loop has one timing wheel of 50ms slots
// with one Timer, set for the first slot that holds a connection (an idle
// loop wakes when a deadline comes, or once a wheel turn of 12.8s), activity
// only stores a time in the connection, and a connection moves to a later
// slot only when its slot comes up before its deadline (to an earlier one at
// once). A timeout fires at most a tick late, never early; it is kept to the
// millisecond and at most 12 days. SetTimer
// puts a time of the program's own on the same wheel: Handler.OnTimer
// runs then, or, without one, the connection is closed with ErrTimeout. A protocol's
// timeouts that change with its state (evhttp's header, body and
// keep-alive timeouts) cost a connection nothing more than that.
//
// # Dialling and adopting
//
// Dial connects with a nonblocking connect (EINPROGRESS, writable,
// SO_ERROR) and an optional timeout; Adopt turns any open descriptor (a
// pipe, a child's stdio, the dup of a net.Conn's descriptor) into a Conn.
// TCP connections get TCP_NODELAY unless ConnConfig.Delay.
//
// # Several cores
//
// A Group runs N loops (GOMAXPROCS by default), each on its own goroutine.
// Group.Listen spreads TCP connections with one SO_REUSEPORT listener per
// loop, and Unix connections with one acceptor that hands descriptors to
// the loops round-robin with Post. Group.Shutdown closes the listeners,
// closes the connections gracefully, resets those left at the drain
// deadline, and stops the loops.
//
// # TLS
//
// ListenConfig.TLS and Dialer.TLS (a TLSConfig: a *tls.Config with a
// handshake timeout and a bound on handshakes in flight) put TLS between
// the socket and the handler, with the standard crypto/tls, unforked and
// used as it is: certificates and SNI (GetCertificate), ALPN, client
// certificates, session tickets and OCSP staples all come from the given
// tls.Config. A handler sees plaintext whether its connection is TLS or
// not, so that every protocol built on evnet runs over TLS unchanged:
// OnOpen runs once the handshake is done (Conn.TLSState then tells the
// version, ALPN protocol, peer certificates, resumption), OnData gets
// plaintext, Write encrypts. PauseRead, ResumeRead, the timeouts,
// SetHandler and Peek (plaintext) keep their meaning. The watermarks,
// Buffered and MaxBuffered count the bytes queued for the socket, which
// for TLS are records: the plaintext and 22 to 29 bytes per record of up
// to 16 KiB. CloseWrite sends close_notify, then shuts the socket down for
// writing once the queue is flushed; Close sends close_notify, flushes,
// and closes. The peer's close_notify is its EOF (OnEOF, or a close with
// ErrEOF); a FIN without it closes with ErrTruncated (after OnEOF, if
// set). KeyUpdate (answered when the peer asks), session tickets and
// alerts are handled as crypto/tls handles them. A handshake that fails
// closes the connection with a reason wrapping ErrHandshake and
// crypto/tls's error, after the alert crypto/tls sends; OnOpen never
// runs, OnClose does.
// TLSConfig.Plaintext takes the connections whose client does not speak
// TLS at all (an HTTP request sent to an HTTPS port) as plain ones, to
// answer them. Conn.StartTLSServer and StartTLSClient turn an open plain
// connection (after a STARTTLS command, or an adopted descriptor) into a
// TLS one. Conn.SendFile works on a TLS connection, without
// sendfile(2), which cannot encrypt: the region is read with pread(2) 32
// KiB at a time as the socket takes it, encrypted, and written.
//
// How: each TLS connection starts with a tls.Conn whose net.Conn is an
// in-memory transport that the connection feeds. The handshake cannot
// be resumed after a would-block, so it runs on a goroutine of its own
// over the blocking side of that transport: the loop hands it the bytes
// it reads (under a mutex and a condition variable), one record at a
// time; what crypto/tls writes, the goroutine writes to the socket
// itself while the kernel takes it all (nothing else writes then), and
// hands to the loop with Loop.Post otherwise; its end comes with Post. A
// server connection's goroutine starts once its client's first record
// is in (a client that trickles half a ClientHello holds none), and at
// most TLSConfig.MaxHandshakes (DefaultMaxHandshakes, 1,024) run per
// listener and loop: the connections beyond wait, reading nothing, for
// one to end. TLSConfig.HandshakeTimeout (DefaultHandshakeTimeout, 10 s),
// on the loop's timing wheel, closes a connection whose handshake has not
// ended, and its goroutine with it; a reset or a closed loop does too.
// Once the handshake is done, no goroutine is left for the connection:
// an idle or a busy TLS connection is served by the loop alone, with one
// of two record layers. The goroutine waits up to a second for another
// handshake (of any loop; at most 64 wait), whose stack it then need not
// grow again: a new goroutine's stack grows by copies as crypto/tls goes
// deeper, about 14 µs of a handshake's CPU time.
//
// TLS 1.3 server connections use a record layer of evnet's own (unless
// TLSConfig.StdRecords). The listener's clone of the tls.Config has a
// KeyLogWriter of evnet's, which passes every line on to the program's
// KeyLogWriter, if any: the loop, which feeds each handshake its input,
// reads the client random from the ClientHello and registers the
// handshake under it, and the writer hands the client's and the server's
// application traffic secrets of crypto/tls's CLIENT_TRAFFIC_SECRET_0
// and SERVER_TRAFFIC_SECRET_0 lines to the handshake registered under
// the line's random (two handshakes under one random get none, and keep
// crypto/tls's records). A config returned by the program's
// GetConfigForClient, or one with Encrypted Client Hello keys (whose
// lines carry the inner ClientHello's random), is cloned for each
// handshake instead, with the handshake as its KeyLogWriter. When the
// handshake has succeeded, the
// keys and IVs are derived from the secrets (HKDF-Expand-Label, RFC 8446
// section 7.3; AES-128-GCM and AES-256-GCM from crypto/aes and
// crypto/cipher, ChaCha20-Poly1305 from golang.org/x/crypto); the
// server's first sequence number is the count of records crypto/tls has
// written under the server's application key (its session tickets),
// found by opening the records it wrote after the secret came, in turn,
// with that key (its Finished, under the handshake key, does not open);
// the client's is 0 after its Finished, the last record crypto/tls was
// given. The tls.Conn is then dropped, and with it its buffers: what
// stays is the two AEADs, their IVs, sequence numbers and secrets (for
// KeyUpdate), and a copy of the tls.ConnectionState for Conn.TLSState.
// Records are decrypted in place in the loop's read buffer, their
// plaintexts moved together and given to OnData at once (a record cut
// by the end of a read waits in a pooled buffer); Write seals records of
// up to 16 KiB into the loop's records buffer, which goes to the
// socket with the connection's ordinary write path (one write system
// call for up to 64 KiB of plaintext). What crypto/tls refuses, this
// layer refuses in the same way, with the same alert: padding, empty
// records, change_cipher_spec and user_canceled ignored up to 16 in a
// row, KeyUpdate (answered under the old key when the peer asks, then
// the new key; it must end its record), any other handshake message,
// records over 2^14+256 bytes, bad tags, handshake messages cut by other
// records. A differential test and a fuzz test (TestTLS13Differential,
// FuzzTLS13Records) send the same records to both layers and compare
// the plaintext and the end. A connection keeps crypto/tls's record
// layer when its secrets did not come (TLS 1.2; a GetConfigForClient of
// the program's whose config does not allow TLS 1.3), crypto/tls's
// records do not add up, or the AEADs cannot be made (GODEBUG
// fips140=only, whose GCM takes no nonce from outside).
//
// The others (TLS 1.2, clients, which need crypto/tls's handling of
// session tickets after the handshake for resumption, and
// TLSConfig.StdRecords) keep the tls.Conn: the ciphertext read into the
// loop's shared buffer is handed to tls.Conn.Read, cut at record
// boundaries (what crypto/tls reads ahead it keeps in a buffer that
// stays as large as its largest read); tls.Conn.Read decrypts into a
// second buffer the loop shares, and its plaintext goes to OnData. When
// the transport has nothing more, its Read fails with an error whose
// Temporary() is true, which crypto/tls returns without keeping, so that
// the next Read goes on where this one stopped, even in the middle of a
// record: this layer rests on this fact, which
// TestTLSWouldBlockNotSticky pins, so that a Go release that changed it
// would fail loudly. tls.Conn.Write's records are gathered and written
// with the connection's ordinary write path.
//
// Costs, measured on the 2-core development machine. An idle TLS 1.3
// connection after its handshake and one 64-byte echo holds 2,379 bytes
// of live heap on evnet's record layer, whatever the client's key share
// (TestTLSIdleMemory, 5,000 connections): the two AES-GCM states 1,536
// bytes, the record layer's state 208, the copy of the
// tls.ConnectionState 192, evnet's Conn, TLS state and side struct 272,
// crypto/tls's exporter secret (kept by ConnectionState's
// ExportKeyingMaterial) about 120. On crypto/tls's record layer the same
// connection holds 4,153 bytes with a client that offers X25519:
// crypto/tls's two AES-GCM states 1,792 bytes, its Conn 912, its read
// buffer 576 and handshake buffer 256, secrets and the rest 280; and
// 5,945 with the 1.4 KB ClientHello of a post-quantum key share
// (X25519MLKEM768, which Go's clients and the browsers offer first), its
// handshake buffer keeping the ClientHello's size (2,048; the read
// buffer stays at 576 because evnet splits the ClientHello's record into
// records of 512 bytes: a handshake message may span records, and the
// transcript covers the message). A plain connection holds 169 bytes.
// Per message, evnet's record layer allocates nothing; crypto/tls
// allocates 24 bytes for each record it reads into an empty buffer (a
// reader it makes escapes through bytes.Buffer.ReadFrom), whatever its
// transport, and evnet nothing more (BenchmarkTLSEcho, TestTLSEchoAllocs).
// The time per echoed message (BenchmarkTLSEcho, TLS 1.3, an evnet
// server and a crypto/tls client on one loop, so that half the work is
// the client's) is about 5% less on evnet's record layer: 5.2 µs
// against 5.5 for 64 bytes, 5.8 against 6.1 for 1 KiB, 18.9 against
// 20.0 for 16 KiB (the fastest of eight runs alternated with the build
// before it; the medians, on a loaded machine, 6.7 against 8.5, 6.9
// against 7.6, 20.5 against 21.7). A full TLS 1.3 handshake
// (ECDSA P-256, X25519) and a 1-byte echo cost the server as much CPU
// time as crypto/tls's own server on a goroutine per connection, or less:
// 308 to 332 µs against 366 to 381 with GOMAXPROCS 1, 382 to 505 against
// 398 to 451 with 2 (TestTLSHandshakeCPU, clients in a child process,
// measured on crypto/tls's record layer). On evnet's record layer, with
// the config cloned once per listener, the handshakes' goroutines kept
// for the next one and the keys made without allocating, the median of
// 18 runs alternated with the build before those changes (GOMAXPROCS 2,
// a machine shared with other work) is 394 µs against 385 for
// crypto/tls's own server in the same runs, 2% more (6% before: 404
// against 380); what is left is the key log lines crypto/tls formats,
// keying two AEADs again, the state's copy, and the loop's hand-offs
// to and from the handshake's goroutine. In the shared harness (one loop
// on one core, 500 handshakes a second, each with a request), the loop's
// hand-offs are what the scheduler makes dear: eddy serve's loops, which
// keep their processor while they wait (eddy.Config.HoldProcessor), spent
// 308 µs of CPU per handshake against net/http's 528 and nginx's 408, and
// 500 µs with -hold=false (docs/BENCHMARKS.md, session 14).
//
// # The special problem of running out of descriptors
//
// See Listener: accepting pauses for 100ms and is reported once through
// ConnConfig.Logf; the server never spins and never stops serving.
package evnet
