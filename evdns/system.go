package evdns

import (
	"context"
	"errors"
	"net"
	"net/netip"

	"github.com/eddyloop/eddy"
)

// SystemResolver is the other strategy of name resolution: it resolves
// through the system's resolver (Go's net.Resolver, which follows
// nsswitch.conf and can call the C library's getaddrinfo for NSS modules
// such as mDNS or LDAP), on the loop's work pool (eddy.LaneSlow, so that
// slow lookups never delay fast work), and hands the results back to the
// loop. It has the callback methods of Resolver that do not depend on DNS
// itself: LookupHost and LookupAddr. It neither caches nor coalesces: the
// system does what it does.
//
// Its methods must be called on the loop's goroutine, and its callbacks
// run there, never before the lookup function returns. A lookup in
// progress keeps the loop's Run alive.
type SystemResolver struct {
	loop *eddy.Loop
	r    *net.Resolver
}

// NewSystemResolver returns a SystemResolver on the loop l using
// net.DefaultResolver.
func NewSystemResolver(l *eddy.Loop) *SystemResolver {
	return &SystemResolver{loop: l, r: net.DefaultResolver}
}

// SystemRequest is a lookup of a SystemResolver in progress, returned so
// that it can be canceled.
type SystemRequest struct {
	work   *eddy.Work
	cancel context.CancelFunc
	done   bool
}

// Cancel stops the lookup: its callback will not run. A lookup that has
// not started yet is taken off the work pool's queue; one that is running
// has its context canceled. It reports whether the lookup was still in
// progress; a nil SystemRequest gives false.
func (req *SystemRequest) Cancel() bool {
	if req == nil || req.done {
		return false
	}
	req.done = true
	req.cancel()
	if req.work != nil {
		req.work.Cancel()
	}
	return true
}

// systemError turns an error of net.Resolver into this package's errors:
// an *Error with ErrNXDomain for a name that is not found, ErrTimeout for
// a timeout; other errors are returned wrapped in an *Error whose Err is
// ErrServerError only when nothing better is known.
func systemError(name string, err error) error {
	var de *net.DNSError
	if errors.As(err, &de) {
		switch {
		case de.IsNotFound:
			return &Error{Name: name, Err: ErrNXDomain}
		case de.IsTimeout:
			return &Error{Name: name, Err: ErrTimeout}
		}
	}
	if errors.Is(err, context.Canceled) {
		return &Error{Name: name, Err: ErrClosed}
	}
	return &Error{Name: name, Err: &systemErr{err}}
}

// systemErr is a failure of the system resolver that has no ErrX value
// of its own; it reads and unwraps as the original error.
type systemErr struct{ err error }

func (e *systemErr) Error() string { return e.err.Error() }
func (e *systemErr) Unwrap() error { return e.err }

// run queues work on the slow lane; done receives the work's error from
// the loop unless the request was canceled. A failure to queue is
// reported to done (on the loop, through Post) as an *Error.
func (s *SystemResolver) run(name string, work func(ctx context.Context) error, done func(err error)) *SystemRequest {
	ctx, cancel := context.WithCancel(context.Background())
	req := &SystemRequest{cancel: cancel}
	var werr error
	w, err := s.loop.Queue(eddy.LaneSlow, func() { werr = work(ctx) }, func(err error) {
		if req.done {
			return
		}
		req.done = true
		cancel()
		if err == nil {
			err = werr
		}
		done(err)
	})
	if err != nil {
		// Keep the rule that callbacks never run inside the lookup call.
		s.loop.Post(func() {
			if !req.done {
				req.done = true
				cancel()
				done(&Error{Name: name, Err: err})
			}
		})
		return req
	}
	req.work = w
	return req
}

// LookupHost looks up the addresses of name with the system's resolver
// (net.Resolver.LookupNetIP, which consults the hosts file and whatever
// nsswitch.conf names) on the loop's work pool and calls cb with them, on
// the loop. An address literal is its own answer; IPv4 addresses are
// reported as such, not IPv4-mapped. Errors are *Error
// values: ErrNXDomain for a name that does not exist, ErrTimeout, or the
// system's error.
func (s *SystemResolver) LookupHost(name string, cb func(addrs []netip.Addr, err error)) *SystemRequest {
	var addrs []netip.Addr
	return s.run(name, func(ctx context.Context) error {
		a, err := s.r.LookupNetIP(ctx, "ip", name)
		for i := range a {
			a[i] = a[i].Unmap() // as Resolver reports IPv4 addresses
		}
		addrs = a
		return err
	}, func(err error) {
		if err != nil {
			if _, ok := err.(*Error); !ok {
				err = systemError(name, err)
			}
			cb(nil, err)
			return
		}
		cb(addrs, nil)
	})
}

// LookupAddr looks up the names of addr with the system's resolver
// (net.Resolver.LookupAddr) on the loop's work pool and calls cb with
// them, on the loop. Errors are as for LookupHost.
func (s *SystemResolver) LookupAddr(addr netip.Addr, cb func(names []string, err error)) *SystemRequest {
	var names []string
	name := addr.String()
	return s.run(name, func(ctx context.Context) error {
		n, err := s.r.LookupAddr(ctx, name)
		names = n
		return err
	}, func(err error) {
		if err != nil {
			if _, ok := err.(*Error); !ok {
				err = systemError(name, err)
			}
			cb(nil, err)
			return
		}
		cb(names, nil)
	})
}

func (s *SystemResolver) dialLoop() *eddy.Loop { return s.loop }

// dialLookup answers for both families at once: the system's resolver
// gives its addresses together.
func (s *SystemResolver) dialLookup(name string, cb func([]netip.Addr, bool, error)) func() {
	req := s.LookupHost(name, func(addrs []netip.Addr, err error) { cb(addrs, false, err) })
	return func() { req.Cancel() }
}
