package evnet

// The errors of the package: the reasons a connection closes, and the
// wrapping of the kernel's errno values.

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// The reasons a connection closes, given to Handler.OnClose. A reason that
// comes from the kernel wraps the errno too, so errors.Is matches both
// ErrReset and unix.ECONNRESET, for instance.
var (
	// ErrEOF means the peer closed its side of the connection (or shut it
	// down for writing) and the connection was closed after the output
	// queue was flushed.
	ErrEOF = errors.New("evnet: connection closed by peer")
	// ErrReset means the peer reset the connection (ECONNRESET, EPIPE).
	ErrReset = errors.New("evnet: connection reset by peer")
	// ErrTimeout means the idle, write or dial timeout expired.
	ErrTimeout = errors.New("evnet: timeout")
	// ErrLocalClose means Close was called and the connection closed after
	// its output queue was flushed.
	ErrLocalClose = errors.New("evnet: closed locally")
	// ErrAborted means Abort was called: the connection was reset.
	ErrAborted = errors.New("evnet: connection aborted locally")
	// ErrOverflow means the output queue (or the unconsumed input) would
	// have grown past ConnConfig.MaxBuffered: the connection was closed instead.
	ErrOverflow = errors.New("evnet: buffer limit exceeded")
	// ErrClosed is returned by methods of a connection or listener that is
	// closed or closing.
	ErrClosed = errors.New("evnet: use of closed connection")
	// ErrWriteClosed is returned by Write after CloseWrite.
	ErrWriteClosed = errors.New("evnet: write after CloseWrite")
)

// reason turns an errno from read or write into a close reason.
func reason(op string, err error) error {
	switch err {
	case unix.ECONNRESET, unix.EPIPE:
		return fmt.Errorf("%w: %s: %w", ErrReset, op, err)
	case unix.ETIMEDOUT:
		return fmt.Errorf("%w: %s: %w", ErrTimeout, op, err)
	}
	return fmt.Errorf("evnet: %s: %w", op, err)
}
