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
	// dialLookup looks up name's addresses and calls cb on the loop; it
	// returns a function that cancels the lookup (cb then never runs).
	dialLookup(name string, cb func([]netip.Addr, error)) (cancel func())
}

func (r *Resolver) dialLoop() *eddy.Loop { return r.loop }

func (r *Resolver) dialLookup(name string, cb func([]netip.Addr, error)) func() {
	req := r.LookupHost(name, cb)
	return func() { req.Cancel() }
}

// Dialer holds the options of a dial by host name. Its zero value has no
// overall timeout, the default attempt delay and evnet's default options.
type Dialer struct {
	// Timeout bounds the whole dial, name resolution included; zero means
	// no bound but the kernel's own for each connection attempt.
	Timeout time.Duration
	// AttemptDelay is how long an attempt may take before the next address
	// is tried in parallel (default DefaultAttemptDelay). An attempt that
	// fails starts the next one at once.
	AttemptDelay time.Duration
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

	cancelLookup func()
	addrs        []netip.Addr // in the order of the attempts
	nextAddr     int
	attempts     map[*evnet.Conn]bool // attempts connecting
	firstErr     error
	done         bool
	winner       *evnet.Conn
	delay        *eddy.Timer
	deadline     *eddy.Timer
}

// Dial resolves the host of hostport ("name:port", or "[v6]:port") with r
// and connects to its addresses with Happy Eyeballs (RFC 8305). The
// addresses are sorted IPv6 first, the families interleaved; an attempt
// starts on the first, and the next one whenever the attempts in progress
// have not connected after AttemptDelay, or as soon as one fails. The
// first attempt to connect wins and the others are closed. The network is
// "tcp" (both families), "tcp4" or "tcp6". Dial must be called on the
// resolver's loop.
//
// cb runs on the loop once: with the winning connection, before the
// connection's OnOpen, or with an error that names hostport (ErrDialTimeout
// after Timeout, the resolver's *Error, or the first attempt's failure)
// and a nil connection. The handler h serves the winning connection only;
// the losers never reach it. cb may run before Dial returns (an error in
// hostport), which then returns nil.
func (d Dialer) Dial(r HostResolver, network, hostport string, h evnet.Handler, cb func(*evnet.Conn, error)) *Dialing {
	ds := &Dialing{l: r.dialLoop(), d: d, network: network, hostport: hostport, h: h, cb: cb,
		attempts: make(map[*evnet.Conn]bool)}
	if ds.d.AttemptDelay <= 0 {
		ds.d.AttemptDelay = DefaultAttemptDelay
	}
	host, port, err := net.SplitHostPort(hostport)
	if err == nil {
		var p uint64
		p, err = strconv.ParseUint(port, 10, 16)
		ds.port = uint16(p)
	}
	if err == nil && network != "tcp" && network != "tcp4" && network != "tcp6" {
		err = fmt.Errorf("unknown network %q", network)
	}
	if err != nil {
		ds.done = true
		cb(nil, ds.wrap(err))
		return nil
	}
	if d.Timeout > 0 {
		ds.deadline = eddy.NewTimer(ds.timedOut, d.Timeout, 0)
		ds.deadline.Start(ds.l)
	}
	cancel := r.dialLookup(host, ds.resolved)
	if ds.done {
		return nil
	}
	if len(ds.addrs) == 0 { // still resolving
		ds.cancelLookup = cancel
	}
	return ds
}

func (ds *Dialing) wrap(err error) error {
	return fmt.Errorf("evdns: dial %s %s: %w", ds.network, ds.hostport, err)
}

// sortAddrs orders addrs as RFC 8305 section 4 says: the families
// interleaved, IPv6 first, each family in the resolver's order; only the
// family of network ("tcp4", "tcp6") is kept when it names one.
func sortAddrs(network string, addrs []netip.Addr) []netip.Addr {
	var v4, v6 []netip.Addr
	for _, a := range addrs {
		if a.Unmap().Is4() {
			if network != "tcp6" {
				v4 = append(v4, a.Unmap())
			}
		} else if network != "tcp4" {
			v6 = append(v6, a)
		}
	}
	out := make([]netip.Addr, 0, len(v4)+len(v6))
	for i := 0; i < len(v4) || i < len(v6); i++ {
		if i < len(v6) {
			out = append(out, v6[i])
		}
		if i < len(v4) {
			out = append(out, v4[i])
		}
	}
	return out
}

func (ds *Dialing) resolved(addrs []netip.Addr, err error) {
	ds.cancelLookup = nil
	if ds.done {
		return
	}
	if err != nil {
		ds.finish(nil, ds.wrap(err))
		return
	}
	ds.addrs = sortAddrs(ds.network, addrs)
	if len(ds.addrs) == 0 {
		ds.finish(nil, ds.wrap(ErrNoAddress))
		return
	}
	ds.delay = eddy.NewTimer(func(*eddy.Timer) { ds.next() }, ds.d.AttemptDelay, 0)
	ds.next()
}

// next starts the attempt on the next address, and the attempt delay
// timer; when no address is left and no attempt is in progress the dial
// fails with the first attempt's error.
func (ds *Dialing) next() {
	for !ds.done && ds.nextAddr < len(ds.addrs) {
		a := ds.addrs[ds.nextAddr]
		ds.nextAddr++
		timeout := time.Duration(0)
		if ds.deadline != nil {
			if timeout = ds.deadline.Remaining(); timeout <= 0 {
				timeout = time.Nanosecond
			}
		}
		dl := evnet.Dialer{Timeout: timeout, Conn: ds.d.Conn}
		c, err := dl.Dial(ds.l, "tcp", netip.AddrPortFrom(a, ds.port).String(), ds.handler())
		if err != nil {
			ds.failed(err)
			continue
		}
		ds.attempts[c] = true
		ds.delay.Stop()
		ds.delay.Set(ds.d.AttemptDelay, 0)
		ds.delay.Start(ds.l)
		return
	}
	if !ds.done && len(ds.attempts) == 0 {
		ds.finish(nil, ds.wrap(ds.firstErr))
	}
}

// failed records the error of an attempt.
func (ds *Dialing) failed(err error) {
	if ds.firstErr == nil {
		ds.firstErr = err
	}
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
	if ds.delay != nil {
		ds.delay.Stop()
	}
	if ds.deadline != nil {
		ds.deadline.Stop()
	}
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
