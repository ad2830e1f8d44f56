package evdns

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evnet"
)

// DefaultAttemptDelay is the time Dial waits for a connection attempt
// before starting the next one when Dialer.AttemptDelay is zero: the
// "Connection Attempt Delay" that RFC 8305 recommends.
const DefaultAttemptDelay = 250 * time.Millisecond

// DefaultResolutionDelay is the time Dial waits for the AAAA answer when
// the A answer came first and Dialer.ResolutionDelay is zero: the
// "Resolution Delay" that RFC 8305 recommends.
const DefaultResolutionDelay = 50 * time.Millisecond

// ErrDialTimeout means that Dial did not connect to any address of the
// name before its timeout.
var ErrDialTimeout = errors.New("evdns: dial timed out")

// ErrNoAddress means that the name has no address of the family the
// network of Dial asks for ("tcp4" or "tcp6").
var ErrNoAddress = errors.New("evdns: no address of the requested family")

// HostResolver is what Dial needs of a resolver: a loop and a way to look
// up the addresses of a host. It is implemented by *Resolver (DNS on the
// loop) and *SystemResolver (the system's resolver through the loop's work
// pool); its methods are unexported, so no other type implements it.
type HostResolver interface {
	// dialLoop returns the loop the resolver belongs to.
	dialLoop() *eddy.Loop
	// dialLookup looks up name's addresses and calls cb on the loop, as
	// Resolver.lookupHostEach does: with more set for the addresses of a
	// family known before the other family's answer, and last with more
	// clear, with the addresses not given yet or the lookup's error. It
	// returns a function that cancels the lookup (cb then runs no more).
	dialLookup(name string, cb func(addrs []netip.Addr, more bool, err error)) (cancel func())
}

func (r *Resolver) dialLoop() *eddy.Loop { return r.loop }

func (r *Resolver) dialLookup(name string, cb func([]netip.Addr, bool, error)) func() {
	req := r.lookupHostEach(name, cb)
	return func() { req.Cancel() }
}

// dialAttempt starts a connection attempt. Tests replace it to see the
// attempts that Dial makes.
var dialAttempt = evnet.Dialer.Dial

// Dialer holds the options of a dial by host name. Its zero value has no
// overall timeout, the default delays and evnet's default options.
type Dialer struct {
	// Timeout bounds the whole dial, name resolution included; zero means
	// no bound but the kernel's own for each connection attempt.
	Timeout time.Duration
	// AttemptDelay is how long an attempt may take before the next address
	// is tried in parallel (default DefaultAttemptDelay). An attempt that
	// fails starts the next one at once.
	AttemptDelay time.Duration
	// ResolutionDelay is how long the attempts wait for the AAAA answer
	// when the A answer came first (default DefaultResolutionDelay), so
	// that IPv6 is tried first all the same. It applies to the network
	// "tcp" only.
	ResolutionDelay time.Duration
	// Conn applies to the connection that wins.
	Conn evnet.ConnConfig
}

// Dial resolves the host of hostport with r and connects to one of its
// addresses with a Dialer of the given timeout. See Dialer.Dial.
func Dial(r HostResolver, network, hostport string, timeout time.Duration, h evnet.Handler, cb func(*evnet.Conn, error)) *Dialing {
	return Dialer{Timeout: timeout}.Dial(r, network, hostport, h, cb)
}

// Dialing is a dial in progress, returned by Dial so that it can be
// canceled.
type Dialing struct {
	l        *eddy.Loop
	d        Dialer
	network  string
	hostport string
	port     uint16
	h        evnet.Handler
	cb       func(*evnet.Conn, error)

	cancelLookup func()               // set while resolving, once Dial has returned
	resolving    bool                 // the lookup has more to say
	lookupErr    error                // the lookup's failure, when it found nothing
	started      bool                 // attempts may start (see resolved)
	v6, v4       []netip.Addr         // the addresses not tried yet
	last6        bool                 // the last attempt went to an IPv6 address
	attempts     map[*evnet.Conn]bool // attempts connecting
	firstErr     error
	done         bool
	winner       *evnet.Conn
	resDelay     eddy.Timer // the Resolution Delay: IPv4 waits for the AAAA answer
	delay        eddy.Timer // the Connection Attempt Delay
	deadline     eddy.Timer // Timeout, when there is one
}

// Dial resolves the host of hostport ("name:port", or "[v6]:port") with r
// and connects to its addresses with Happy Eyeballs (RFC 8305). The
// network is "tcp" (both families), "tcp4" or "tcp6" (that family's
// addresses only). Dial must be called on the resolver's loop.
//
// The A and AAAA questions go out together, and the attempts start as
// soon as the answers allow (RFC 8305 section 3): at once when the AAAA
// answer brings addresses; when the A answer comes first, after
// ResolutionDelay, or sooner if the AAAA answer comes within it (IPv6 then
// goes first) or says that there is no IPv6 address. A family whose
// question fails or times out holds nothing up: the other family's
// addresses are tried; the dial fails with the lookup's error only when
// neither family has an address. With a *Resolver each family counts as
// soon as its answer is in; a *SystemResolver answers for both at once.
//
// The addresses are tried with the families alternating, IPv6 first, each
// family in the resolver's order (section 4); the addresses of an answer
// that comes while attempts are under way join the list with the same
// alternation. An attempt starts on the first address, and the next one
// whenever the last one started has not connected after AttemptDelay, or
// as soon as an attempt fails. The first attempt to connect wins and the
// others are closed.
//
// cb runs on the loop once: with the winning connection, before the
// connection's OnOpen, or with an error that names hostport (ErrDialTimeout
// after Timeout, the resolver's *Error, or the first attempt's failure)
// and a nil connection. The handler h serves the winning connection only;
// the losers never reach it. cb may run before Dial returns (an error in
// hostport, or addresses at hand whose attempts all fail at once), which
// then returns nil.
func (d Dialer) Dial(r HostResolver, network, hostport string, h evnet.Handler, cb func(*evnet.Conn, error)) *Dialing {
	ds := &Dialing{l: r.dialLoop(), d: d, network: network, hostport: hostport, h: h, cb: cb,
		attempts: make(map[*evnet.Conn]bool)}
	if ds.d.AttemptDelay <= 0 {
		ds.d.AttemptDelay = DefaultAttemptDelay
	}
	if ds.d.ResolutionDelay <= 0 {
		ds.d.ResolutionDelay = DefaultResolutionDelay
	}
	host, err := ds.parse()
	if err != nil {
		ds.done = true
		cb(nil, ds.wrap(err))
		return nil
	}
	ds.delay.Init(func(*eddy.Timer) { ds.next() }, ds.d.AttemptDelay, 0)
	ds.resDelay.Init(func(*eddy.Timer) { ds.start() }, ds.d.ResolutionDelay, 0)
	if d.Timeout > 0 {
		ds.deadline.Init(ds.timedOut, d.Timeout, 0)
		ds.deadline.Start(ds.l)
	}
	ds.resolving = true
	cancel := r.dialLookup(host, ds.resolved)
	switch {
	case ds.resolving && ds.done:
		cancel()
	case ds.resolving:
		ds.cancelLookup = cancel
	}
	if ds.done {
		return nil
	}
	return ds
}

// parse checks the network and splits hostport into the host, returned,
// and the port, kept.
func (ds *Dialing) parse() (string, error) {
	host, port, err := net.SplitHostPort(ds.hostport)
	if err != nil {
		return "", err
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return "", err
	}
	ds.port = uint16(p)
	if ds.network != "tcp" && ds.network != "tcp4" && ds.network != "tcp6" {
		return "", fmt.Errorf("unknown network %q", ds.network)
	}
	return host, nil
}

func (ds *Dialing) wrap(err error) error {
	return fmt.Errorf("evdns: dial %s %s: %w", ds.network, ds.hostport, err)
}

// resolved takes an answer of the lookup. Its addresses join those not
// tried yet; the first attempt starts (RFC 8305 section 3) with IPv6
// addresses, or when the lookup is over, or with IPv4 addresses when the
// network is "tcp4"; IPv4 addresses that come first for "tcp" start the
// resolution delay instead, for the AAAA answer to catch up.
func (ds *Dialing) resolved(addrs []netip.Addr, more bool, err error) {
	if ds.done {
		return
	}
	if !more {
		ds.resolving, ds.cancelLookup, ds.lookupErr = false, nil, err
	}
	got4, got6 := ds.add(addrs)
	switch {
	case ds.started:
		if !ds.delay.IsActive() { // no attempt in its first AttemptDelay
			ds.next()
		}
	case got6 || !more || got4 && ds.network == "tcp4":
		ds.start()
	case got4:
		ds.resDelay.Start(ds.l)
	}
}

// add appends the addresses of the network's families to those not tried
// yet and reports which families it added to.
func (ds *Dialing) add(addrs []netip.Addr) (got4, got6 bool) {
	for _, a := range addrs {
		switch a = a.Unmap(); {
		case a.Is4() && ds.network != "tcp6":
			ds.v4 = append(ds.v4, a)
			got4 = true
		case !a.Is4() && ds.network != "tcp4":
			ds.v6 = append(ds.v6, a)
			got6 = true
		}
	}
	return got4, got6
}

// pop takes the next address to try: the other family than the last
// attempt's when it has one, IPv6 first.
func (ds *Dialing) pop() (netip.Addr, bool) {
	var a netip.Addr
	switch {
	case len(ds.v6) > 0 && (!ds.last6 || len(ds.v4) == 0):
		a, ds.v6 = ds.v6[0], ds.v6[1:]
	case len(ds.v4) > 0:
		a, ds.v4 = ds.v4[0], ds.v4[1:]
	default:
		return a, false
	}
	ds.last6 = a.Is6()
	return a, true
}

// start lets the attempts begin: the resolution delay is over.
func (ds *Dialing) start() {
	ds.started = true
	ds.resDelay.Stop()
	ds.next()
}

// next starts the attempt on the next address, and the attempt delay
// timer; when no address is left, none may come and no attempt is in
// progress, the dial fails.
func (ds *Dialing) next() {
	for !ds.done {
		a, ok := ds.pop()
		if !ok {
			break
		}
		c, err := ds.attempt(a)
		if err != nil {
			ds.failed(err)
			continue
		}
		ds.attempts[c] = true
		ds.delay.Stop()
		ds.delay.Start(ds.l)
		return
	}
	if !ds.done && !ds.resolving && len(ds.attempts) == 0 {
		ds.finish(nil, ds.wrap(ds.failure()))
	}
}

// attempt starts connecting to a, within what is left of the timeout.
func (ds *Dialing) attempt(a netip.Addr) (*evnet.Conn, error) {
	timeout := time.Duration(0)
	if ds.d.Timeout > 0 {
		if timeout = ds.deadline.Remaining(); timeout <= 0 {
			timeout = time.Nanosecond
		}
	}
	dl := evnet.Dialer{Timeout: timeout, Conn: ds.d.Conn}
	return dialAttempt(dl, ds.l, "tcp", netip.AddrPortFrom(a, ds.port).String(), ds.handler())
}

// failed records the error of an attempt.
func (ds *Dialing) failed(err error) {
	if ds.firstErr == nil {
		ds.firstErr = err
	}
}

// failure is the reason a dial fails when no attempt is left: the first
// attempt's error, or the lookup's, or ErrNoAddress.
func (ds *Dialing) failure() error {
	switch {
	case ds.firstErr != nil:
		return ds.firstErr
	case ds.lookupErr != nil:
		return ds.lookupErr
	}
	return ErrNoAddress
}

// handler returns the handler of an attempt: it decides the race on
// OnOpen and forwards the winner's events to the program's handler.
func (ds *Dialing) handler() evnet.Handler {
	h := evnet.Handler{
		OnOpen: func(c *evnet.Conn) {
			if !ds.attempts[c] {
				c.Close()
				return
			}
			delete(ds.attempts, c)
			ds.finish(c, nil)
			if ds.h.OnOpen != nil {
				ds.h.OnOpen(c)
			}
		},
		OnData: func(c *evnet.Conn, p []byte) int {
			if ds.h.OnData == nil {
				return len(p)
			}
			return ds.h.OnData(c, p)
		},
		OnDrain: func(c *evnet.Conn) {
			if ds.h.OnDrain != nil {
				ds.h.OnDrain(c)
			}
		},
		OnClose: func(c *evnet.Conn, reason error) {
			if ds.attempts[c] { // an attempt failed
				delete(ds.attempts, c)
				ds.failed(reason)
				ds.delay.Stop()
				ds.next()
				return
			}
			if c == ds.winner && ds.h.OnClose != nil {
				ds.h.OnClose(c, reason)
			}
		},
	}
	if ds.h.OnEOF != nil {
		h.OnEOF = ds.h.OnEOF
	}
	return h
}

// finish ends the dial with the winning connection or an error: it stops
// the timers, cancels the lookup, closes the other attempts and calls
// back.
func (ds *Dialing) finish(c *evnet.Conn, err error) {
	ds.done = true
	ds.delay.Stop()
	ds.resDelay.Stop()
	ds.deadline.Stop()
	if ds.cancelLookup != nil {
		ds.cancelLookup()
		ds.cancelLookup = nil
	}
	losers := ds.attempts
	ds.attempts = nil
	for lc := range losers {
		lc.Close()
	}
	ds.winner = c // whose OnClose reaches h
	ds.cb(c, err)
}

func (ds *Dialing) timedOut(*eddy.Timer) {
	if !ds.done {
		ds.finish(nil, ds.wrap(ErrDialTimeout))
	}
}

// Cancel stops the dial: the lookup is canceled, the attempts in progress
// are closed and the callback never runs. It reports whether the dial was
// still in progress; a nil Dialing gives false.
func (ds *Dialing) Cancel() bool {
	if ds == nil || ds.done {
		return false
	}
	saved := ds.cb
	ds.cb = func(*evnet.Conn, error) {}
	ds.finish(nil, nil)
	ds.cb = saved
	return true
}
