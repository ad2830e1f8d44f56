package evws

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Defaults of Config.
const (
	DefaultMaxMessageBytes = 16 << 20
	DefaultMaxQueuedBytes  = 4 << 20
	DefaultCloseTimeout    = 5 * time.Second
	DefaultMinDeflateBytes = 64
)

// QueuePolicy says what a write does when the connection's output queue
// holds Config.MaxQueuedBytes already: the peer reads slower than the
// program writes.
type QueuePolicy uint8

// The policies of a full queue.
const (
	// QueueWait refuses the message with ErrQueueFull; the program waits
	// for Handler.OnDrain and sends it again (or not).
	QueueWait QueuePolicy = iota
	// QueueDrop drops the message, counted by Conn.Dropped, and returns
	// ErrDropped: for feeds where the next message supersedes this one.
	QueueDrop
	// QueueClose resets the connection (the reason is ErrQueueFull): a
	// peer that cannot keep up is not served.
	QueueClose
)

// Config holds the settings of WebSocket connections, server's or
// client's. The zero value (or a nil *Config) is the default of every
// field; NewUpgrader and Dial copy it.
type Config struct {
	// MaxMessageBytes bounds a message received whole, or a compressed
	// message once inflated (default DefaultMaxMessageBytes): a longer
	// one closes the connection with 1009 (CloseTooBig). With
	// Handler.OnFragment, uncompressed messages are not held, and have no
	// limit.
	MaxMessageBytes int
	// Subprotocols lists the subprotocols: for a server, those it speaks,
	// in its order of preference (the first the client offers is chosen);
	// for a client, those it offers.
	Subprotocols []string
	// CheckOrigin, if set, is asked by a server whether a request's Origin
	// (empty if none) is allowed, with its Host; false answers 403.
	// Without it, every origin is accepted.
	CheckOrigin func(origin, host string) bool
	// Deflate offers (client) or accepts (server) permessage-deflate.
	Deflate bool
	// DeflateLevel is compress/flate's level (default flate.BestSpeed,
	// the only one whose reset per message is cheap).
	DeflateLevel int
	// MinDeflateBytes: messages shorter than this are sent uncompressed
	// (default DefaultMinDeflateBytes).
	MinDeflateBytes int
	// ContextTakeoverBudget, for a server, is the bytes per loop it may
	// spend on clients' compression contexts: a client that does not
	// offer client_no_context_takeover is accepted with its context (a
	// window of up to 32 KiB kept per connection, less when the client
	// lets the server choose client_max_window_bits: see
	// ContextWindowBits) while the loop's windows fit in the budget, and
	// told client_no_context_takeover otherwise. Zero declines every
	// client's context: the server then keeps no compression state per
	// connection at all.
	ContextTakeoverBudget int
	// ContextWindowBits is the window asked of a client whose context is
	// kept, when its offer lets the server choose (8 to 15; default 15).
	ContextWindowBits int
	// CloseTimeout bounds the close handshake: the wait for the peer's
	// Close frame and for its closing the connection (default
	// DefaultCloseTimeout).
	CloseTimeout time.Duration
	// PingInterval, if set, sends a Ping when nothing was read from the
	// peer for that long, and closes the connection (ErrDeadPeer) when
	// nothing comes PongTimeout after it.
	PingInterval time.Duration
	// PongTimeout is how long a peer has to answer a keep-alive Ping
	// (default PingInterval).
	PongTimeout time.Duration
	// MaxQueuedBytes bounds the output queue as QueuePolicy says (default
	// DefaultMaxQueuedBytes): a message written while the queue holds
	// that much or more is refused, dropped or closes the connection, so
	// that the queue holds at most MaxQueuedBytes and one message. Control
	// frames are never refused.
	MaxQueuedBytes int
	// QueuePolicy is what happens to a message written while the queue
	// holds MaxQueuedBytes.
	QueuePolicy QueuePolicy
	// Header holds extra header fields of a client's handshake request.
	Header http.Header

	stats *counters // the Upgrader's, set by NewUpgrader
}

// withDefaults returns a copy of c (nil: the zero Config) with its
// defaults filled in.
func (c *Config) withDefaults() Config {
	var d Config
	if c != nil {
		d = *c
	}
	if d.MaxMessageBytes <= 0 {
		d.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if d.DeflateLevel == 0 {
		d.DeflateLevel = 1
	}
	if d.MinDeflateBytes <= 0 {
		d.MinDeflateBytes = DefaultMinDeflateBytes
	}
	if d.ContextWindowBits < 8 || d.ContextWindowBits > 15 {
		d.ContextWindowBits = 15
	}
	if d.CloseTimeout <= 0 {
		d.CloseTimeout = DefaultCloseTimeout
	}
	if d.PongTimeout <= 0 {
		d.PongTimeout = d.PingInterval
	}
	if d.MaxQueuedBytes <= 0 {
		d.MaxQueuedBytes = DefaultMaxQueuedBytes
	}
	return d
}

// StatusCode is a close code (RFC 6455 §7.4).
type StatusCode uint16

// The close codes of RFC 6455 §7.4.1 and the IANA registry.
const (
	CloseNormal          StatusCode = 1000
	CloseGoingAway       StatusCode = 1001
	CloseProtocolError   StatusCode = 1002
	CloseUnsupported     StatusCode = 1003
	CloseNoStatus        StatusCode = 1005 // never sent: no code was given
	CloseAbnormal        StatusCode = 1006 // never sent: no Close frame came
	CloseInvalidData     StatusCode = 1007
	ClosePolicyViolation StatusCode = 1008
	CloseTooBig          StatusCode = 1009
	CloseMissingExt      StatusCode = 1010
	CloseInternalError   StatusCode = 1011
	CloseServiceRestart  StatusCode = 1012
	CloseTryAgainLater   StatusCode = 1013
	CloseBadGateway      StatusCode = 1014
)

// validCode reports whether a Close frame may carry code.
func validCode(code StatusCode) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}

// CloseError is the reason of a connection that ended with a Close
// frame: the code and reason of the peer's (Remote) or of this side's,
// which closed first or found the peer at fault.
type CloseError struct {
	// Code is the close code: the one the Close frame carried, or
	// CloseNoStatus for a Close frame without one.
	Code StatusCode
	// Reason is the Close frame's reason text, if any.
	Reason string
	// Remote is true when the peer sent its Close frame first.
	Remote bool
}

// Error describes the close.
func (e *CloseError) Error() string {
	who := "local"
	if e.Remote {
		who = "peer"
	}
	if e.Reason == "" {
		return fmt.Sprintf("evws: closed by %s: %d", who, e.Code)
	}
	return fmt.Sprintf("evws: closed by %s: %d %s", who, e.Code, e.Reason)
}

// Errors of package evws.
var (
	// ErrClosed is a write to a connection that is closing or closed.
	ErrClosed = errors.New("evws: connection closed")
	// ErrQueueFull is a message refused because the output queue is full
	// (QueueWait), or the reason of a connection reset for it (QueueClose).
	ErrQueueFull = errors.New("evws: output queue full")
	// ErrDropped is a message dropped because the output queue is full
	// (QueueDrop).
	ErrDropped = errors.New("evws: message dropped, output queue full")
	// ErrDeadPeer is the reason of a connection whose peer did not answer
	// a keep-alive Ping in time.
	ErrDeadPeer = errors.New("evws: peer did not answer ping")
	// ErrCloseTimeout is the reason of a connection whose close handshake
	// did not finish within Config.CloseTimeout.
	ErrCloseTimeout = errors.New("evws: close handshake timed out")
	// ErrOpcode is a message written with an opcode other than Text or
	// Binary, or a control frame with a data opcode.
	ErrOpcode = errors.New("evws: bad opcode for this write")
	// ErrControlTooLong is a control frame payload over 125 bytes.
	ErrControlTooLong = errors.New("evws: control frame payload over 125 bytes")
	// ErrCloseCode is a close code that no Close frame may carry.
	ErrCloseCode = errors.New("evws: invalid close code")
	// ErrNotOpen is a write to a connection whose OnOpen has not run yet.
	ErrNotOpen = errors.New("evws: connection not open yet")
	// ErrHandshake is a failed opening handshake (wrapped with its reason).
	ErrHandshake = errors.New("evws: handshake failed")
	// errTooBig is a message over MaxMessageBytes.
	errTooBig = errors.New("evws: message too big")
)
