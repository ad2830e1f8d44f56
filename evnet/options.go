package evnet

// The limits and defaults of connections: ConnConfig and the constants
// behind it.

import (
	"time"

	"github.com/eddyloop/eddy/internal/sock"
)

// Default limits of the output queue (see ConnConfig).
const (
	// DefaultHighWater is the default ConnConfig.HighWater.
	DefaultHighWater = 64 << 10
	// DefaultLowWater is the default ConnConfig.LowWater.
	DefaultLowWater = 16 << 10
	// DefaultMaxBuffered is the default ConnConfig.MaxBuffered.
	DefaultMaxBuffered = 8 << 20
	// ReadBufferSize is the size of the read buffer that all the
	// connections of a loop share.
	ReadBufferSize = 64 << 10
	// maxReadsPerEvent bounds the reads for one readiness event, so that a
	// fast sender cannot starve the loop's other connections.
	maxReadsPerEvent = 4
	// maxAcceptsPerEvent bounds the connections a listener accepts for one
	// readiness event.
	maxAcceptsPerEvent = 64
	// acceptRetryDelay is how long a listener stops accepting after the
	// process ran out of descriptors.
	acceptRetryDelay = 100 * time.Millisecond
)

// ConnConfig are the limits and defaults of the connections of a listener, or
// of one dialled or adopted connection. The zero value (or a nil
// *ConnConfig) means the defaults. A ConnConfig is copied when a listener
// or connection is created.
type ConnConfig struct {
	// HighWater is the output queue size, in bytes, above which Full
	// reports true (default DefaultHighWater).
	HighWater int
	// LowWater is the output queue size, in bytes, under which the queue
	// must fall after having been over HighWater for Handler.OnDrain to run
	// (default DefaultLowWater, at most HighWater).
	LowWater int
	// MaxBuffered is the hard cap, in bytes, on the output queue and on the
	// unconsumed input kept for a connection: a Write or a read that would
	// go past it closes the connection with ErrOverflow (default
	// DefaultMaxBuffered).
	MaxBuffered int
	// IdleTimeout closes a connection with ErrTimeout when nothing was read
	// from it for that long (zero: never). See Conn.SetIdleTimeout.
	IdleTimeout time.Duration
	// WriteTimeout closes a connection with ErrTimeout when its output
	// queue is not empty and the kernel took none of it for that long
	// (zero: never). See Conn.SetWriteTimeout.
	WriteTimeout time.Duration
	// Delay leaves Nagle's algorithm on; by default TCP_NODELAY is set.
	Delay bool
	// ReadBuffer and WriteBuffer, if positive, are the kernel's receive
	// and send buffer sizes (SO_RCVBUF, SO_SNDBUF), set on the socket
	// before it connects (Dialer) or listens (ListenConfig: accepted TCP
	// connections inherit them; accepted Unix ones get them when they are
	// accepted), as nginx's rcvbuf and sndbuf are. The
	// kernel doubles them for its bookkeeping, and clamps them to its
	// limits (net.core.rmem_max, wmem_max). Zero leaves them to the kernel,
	// which grows them as a connection needs. Unlike Conn.SetReadBuffer,
	// a receive buffer set this way is known when TCP settles the window
	// scale with the peer.
	ReadBuffer, WriteBuffer int
	// Logf, if not nil, receives the rare operational messages (a listener
	// out of descriptors, for instance).
	Logf func(format string, args ...any)
}

// buffers returns the socket buffer sizes to set before listen or connect.
func (o ConnConfig) buffers() sock.Buffers {
	return sock.Buffers{Recv: o.ReadBuffer, Send: o.WriteBuffer}
}

func (o ConnConfig) withDefaults() ConnConfig {
	if o.HighWater <= 0 {
		o.HighWater = DefaultHighWater
	}
	if o.LowWater <= 0 {
		o.LowWater = DefaultLowWater
	}
	o.LowWater = min(o.LowWater, o.HighWater)
	if o.MaxBuffered <= 0 {
		o.MaxBuffered = DefaultMaxBuffered
	}
	o.MaxBuffered = max(o.MaxBuffered, o.HighWater)
	return o
}
