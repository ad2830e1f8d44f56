package evdns

import (
	"errors"
	"strings"
)

// The results of a lookup that found nothing, and the ways a lookup fails.
// Lookups report them wrapped in an *Error that names the name looked up,
// so test them with errors.Is.
var (
	// ErrNXDomain means that the name does not exist (RCODE NXDOMAIN): for
	// a name tried with the search list, that no candidate exists.
	ErrNXDomain = errors.New("evdns: no such host")

	// ErrNoData means that the name exists but has no record of the type
	// asked for (NOERROR with an empty answer, RFC 2308's NODATA).
	ErrNoData = errors.New("evdns: no records of the requested type")

	// ErrServFail means that every server answered SERVFAIL: the server
	// could not get an answer from the authorities of the name.
	ErrServFail = errors.New("evdns: server failure (SERVFAIL)")

	// ErrRefused means that every server refused the query (REFUSED).
	ErrRefused = errors.New("evdns: query refused (REFUSED)")

	// ErrServerError means that the servers answered with another error
	// code (FORMERR, NOTIMP, ...).
	ErrServerError = errors.New("evdns: server error")

	// ErrTimeout means that no server answered: every attempt on every
	// server timed out or was refused at the transport level (ICMP port
	// unreachable). A lookup never waits longer than Attempts times the
	// number of servers times Timeout.
	ErrTimeout = errors.New("evdns: no answer from any server")

	// ErrTruncated means that an answer came truncated over UDP and the
	// query over TCP that should have replaced it failed.
	ErrTruncated = errors.New("evdns: answer truncated and TCP retry failed")

	// ErrInvalidName means that the name is not a valid domain name, or
	// that the search list gave no candidate for it.
	ErrInvalidName = errors.New("evdns: invalid domain name")

	// ErrCNAMELoop means that a CNAME chain was longer than MaxCNAMEHops
	// or came back to a name it had already visited.
	ErrCNAMELoop = errors.New("evdns: CNAME chain too long")

	// ErrTooManyQueries means that the queue of queries waiting for a slot
	// under ResolverConfig.MaxInFlight is full.
	ErrTooManyQueries = errors.New("evdns: too many queries queued")

	// ErrClosed means that the Resolver was closed while the lookup was in
	// progress, or before it started.
	ErrClosed = errors.New("evdns: resolver closed")
)

// Error is the error a lookup reports: what went wrong (one of the ErrX
// values of this package, which Unwrap returns) and the name that was
// looked up, as the caller gave it.
type Error struct {
	// Name is the name looked up, as given to the lookup function (for
	// LookupAddr, the address).
	Name string
	// Err is the reason, one of this package's ErrX values.
	Err error
}

// Error returns "evdns: lookup NAME: REASON".
func (e *Error) Error() string {
	return "evdns: lookup " + e.Name + ": " + strings.TrimPrefix(e.Err.Error(), "evdns: ")
}

// Unwrap returns the reason, for errors.Is.
func (e *Error) Unwrap() error { return e.Err }

// Temporary reports whether trying again later may succeed: true for
// timeouts, SERVFAIL, REFUSED, truncation, a full queue and other server
// errors; false for NXDOMAIN, NODATA and invalid names.
func (e *Error) Temporary() bool {
	switch e.Err {
	case ErrNXDomain, ErrNoData, ErrInvalidName, ErrCNAMELoop, ErrClosed:
		return false
	}
	return true
}
