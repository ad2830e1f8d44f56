package evnet

// The limits and defaults of connections: ConnConfig and the constants
// behind it.

import "time"

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
	// Logf, if not nil, receives the rare operational messages (a listener
	// out of descriptors, for instance).
	Logf func(format string, args ...any)
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
