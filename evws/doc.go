// Package evws is WebSocket (RFC 6455) with permessage-deflate (RFC 7692)
// on eddy loops: servers upgraded from package evhttp's handlers, native or
// adapted, and clients dialled through package evclient, with one message
// API for both. Like the rest of eddy it runs on the loop: no goroutine per
// connection, no lock, no blocking call; callbacks run on the connection's
// loop and must not block.
//
// # A server in a few lines
//
//	u := evws.NewUpgrader(nil, evws.Handler{
//		OnMessage: func(c *evws.Conn, op evws.Opcode, p []byte) {
//			c.WriteMessage(op, p) // echo
//		},
//	})
//	srv := &evhttp.Server{Handler: u} // every request: a handshake, or 426
//	srv.Serve(loop, "tcp", "127.0.0.1:9001")
//
// Upgrader.Upgrade does the same from a native handler that routes
// requests itself, and Upgrader.UpgradeHTTP from a standard http.Handler
// served by evhttp.Adapt (through evhttp.UpgradeAdapted: the connection
// stays on its loop, TLS included). Dial is the client: ws:// and wss:// URLs, names resolved by
// evdns with Happy Eyeballs, TLS by evnet's layer.
//
// # The handshake
//
// The server checks the opening handshake as RFC 6455 §4.2 says: GET,
// HTTP/1.1, "Upgrade: websocket" with "Connection: upgrade", version 13
// (else 426 with "Sec-WebSocket-Version: 13"; a request that is no
// handshake at all, a plain GET, also gets 426), a key that is the base64
// of 16 bytes (else 400), Config.CheckOrigin (else 403). It picks the
// first of its Config.Subprotocols that the client offers, and answers a
// permessage-deflate offer when Config.Deflate is set.
//
// # Frames and messages
//
// The reader is a state machine fed by evnet's OnData: it takes each
// frame's payload as it arrives, unmasks it in place in the loop's read
// buffer, and keeps nothing of a connection's input but what a message
// needs. Frames are checked strictly, and a violation fails the connection
// with a Close frame carrying its code: an unmasked frame from a client or
// a masked one from a server, reserved bits without the extension that
// defines them, unknown opcodes, control frames over 125 bytes or
// fragmented, a continuation with no message or a new message inside one
// (1002); invalid UTF-8 in a Text message or a close reason (1007), found
// as soon as its first wrong byte arrives, even in the first fragment of a
// long message; a message over Config.MaxMessageBytes (1009), refused by
// the frame's declared length before its payload is read. Close codes
// received are checked (1002 for 1005, 1006, 1015, 0-999 and the
// unassigned ones). Pings are answered with Pongs, between the fragments
// of a message too. Upgrader.Stats counts the refused handshakes and the
// connections failed, by code.
//
// Messages come whole to Handler.OnMessage: a message that arrived in one
// read is delivered from the read buffer without a copy; one that spans
// frames or reads is gathered in a buffer the loop lends and takes back
// once it is delivered. Handler.OnFragment instead delivers each message
// in pieces as its bytes come, for programs that want large messages
// without holding them.
//
// # The close handshake and keep-alive
//
// Conn.Close sends a Close frame and waits for the peer's; the server then
// closes the TCP connection, the client waits for the server to (RFC 6455
// §7.1.1), each within Config.CloseTimeout. A peer that starts the close
// gets its code echoed. Config.PingInterval sends a Ping when the peer was
// silent for that long, and closes the connection (ErrDeadPeer) when no
// byte comes Config.PongTimeout after. These timers cost nothing per
// connection: they are evnet's SetTimer, on the loop's timing wheel.
//
// # permessage-deflate, and why no compressor per connection
//
// A compress/flate writer holds about a megabyte; a connection that kept
// one (context takeover on the server's side) would cost more than a
// thousand idle connections do. The server therefore always answers
// server_no_context_takeover, and compresses each message on its own with
// one writer per loop (level flate.BestSpeed, whose reset per message is
// cheap). Decompression, likewise, uses one reader per loop. What a server
// may still hold is the client's context: a client that does not offer
// client_no_context_takeover compresses each message against the ones
// before, and the server must keep the last window (up to 32 KiB) of what
// it inflated. Config.ContextTakeoverBudget bounds the bytes a loop
// spends on such windows: within it, the client's context is accepted (and
// client_max_window_bits, when the client lets the server choose, set to
// Config.ContextWindowBits); beyond it, or with a zero budget (the
// default), the server answers client_no_context_takeover, and the client
// must not use its context. eddy's client offers both no_context_takeover
// parameters, so neither side keeps state. A peer that asks for a window
// smaller than 32 KiB (max_window_bits below 15) gets compressed only the
// messages no longer than that window, whose matches cannot reach past it;
// longer ones go uncompressed, which RFC 7692 allows per message.
//
// Inflation is bounded: a message inflates into at most MaxMessageBytes,
// and one that would grow past it (a decompression bomb) fails with 1009
// having cost that much memory, no more; invalid compressed data fails
// with 1007.
//
// # Backpressure
//
// Both ways. A handler that cannot keep up calls Conn.PauseRead: no
// callback runs, the kernel's buffer fills and the peer is slowed down,
// until Conn.ResumeRead. A peer that reads slower than the program writes
// fills the connection's output queue: Conn.Full reports it over evnet's
// high watermark, Handler.OnDrain when it has drained, and
// Config.MaxQueuedBytes is a hard bound with a Config.QueuePolicy:
// QueueWait refuses the message (ErrQueueFull) for the program to send it
// again after OnDrain, QueueDrop drops it (counted by Conn.Dropped),
// QueueClose resets the connection. The queue never grows past the bound
// and one message. A message over 1 MiB is not handed to evnet whole,
// whose queue has a hard cap of its own (evnet.ConnConfig's MaxBuffered,
// 8 MiB by default) that a 16 MiB echo would pass: it is copied once and
// sent in fragments of 256 KiB while evnet's queue holds less than 1 MiB,
// the rest as it drains, Pongs and Close frames going between two
// fragments; meanwhile Full is true and other messages are refused as by
// a full queue.
//
// # Broadcast: one frame for N connections
//
// NewPrepared frames a message once, and compresses it once for the
// connections that negotiated permessage-deflate. Conn.WritePrepared hands
// those bytes to each connection with evnet.Conn.WriteShared, which
// writes them with one system call and, for what the kernel does not take,
// queues a reference to the shared buffer instead of a copy: N
// connections cost N system calls and no copy, compression or allocation
// each. The buffer is immutable, and the garbage collector keeps it alive
// while any queue refers to it, which is the reference count. On TLS
// connections the bytes are encrypted per connection anyway (evnet's
// WriteShared is Write there); client connections, masked each with its
// own key, frame the message again.
//
// A Hub sends to many connections of one loop for the program (a room, a
// topic): Broadcast queues the message once for all its members and
// writes to them a slice at a time (HubConfig.Slice per iteration of the
// loop), so that the loop goes on reading between slices, and a member
// that has several messages waiting when its turn comes gets them in one
// writev (evnet.Conn.WriteSharedBuffers). At a rate the loop can write
// message by message, each goes out in the iteration it was broadcast in;
// above it, the messages per system call grow instead of the loop falling
// behind its input (HubStats counts deliveries and writes).
//
// # Memory per connection
//
// An idle server connection holds evws's Conn (208 bytes), evnet's
// connection, timing and side state (272 bytes), and nothing else: no read
// buffer (the loop's is shared), no message buffer (lent while a message
// is incomplete), no compressor or decompressor (the loop's). With what
// the handover from evhttp leaves (its upgrade handler, 48 bytes, and the
// OnOpen method value, 16), TestIdleMemory measures 586 bytes of live heap
// per upgraded connection after one echoed message (2,000 connections),
// with or without permessage-deflate negotiated.
// A client's context, when accepted, adds its window.
//
// # Costs
//
// An echoed message allocates nothing once the connection is warm, on
// the server's side and on the client's (TestAllocs: plain, fragmented and
// compressed messages; TestClientAllocs; BenchmarkEcho), and a broadcast
// allocates nothing per connection (TestBroadcast). On the 2-core
// development machine, a delivery of a broadcast costs 11.7 µs of CPU, 94%
// of it in the write system call (BenchmarkBroadcast): the loop adds
// little to what the kernel's loopback TCP costs. Measured with the shared
// benchmark harness (one loop, one core; eddy ws against gobwas/ws, the
// best Go peer of the run): 142,600 echoed 64-byte messages per server
// CPU-second against 96,500; 866 bytes of RSS per idle upgraded connection
// against 6,108; 85,500 broadcast deliveries per server CPU-second against
// 69,900 (10,000 subscribers).
package evws
