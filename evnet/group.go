package evnet

// Group: several loops, each on its own goroutine, that share the
// connections of a listener, and their graceful shutdown.

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/eddyloop/eddy"
)

// GroupConfig holds the settings of a Group. The zero value (or a nil
// *GroupConfig) is the default of every field.
type GroupConfig struct {
	// Loops is the number of loops; zero or less means GOMAXPROCS.
	Loops int
	// Loop configures each loop. A backend is chosen by Loop.BackendName,
	// which gives each loop its own; Loop.Backend, a single backend value,
	// cannot be shared by loops and is refused when Loops is not 1.
	Loop eddy.Config
	// LockOSThread locks each loop's goroutine to its own OS thread.
	LockOSThread bool
}

// Group runs N loops, each on its own goroutine, and spreads connections
// among them: a TCP address gets one listener per loop with SO_REUSEPORT
// (the kernel spreads the connections); a Unix address gets one acceptor
// on the first loop that hands the accepted descriptors round-robin to
// the loops with Post. Shutdown stops it gracefully. Listen, Post, Loop
// and Shutdown may be called from any goroutine except the group's own
// loops' (Listen and Shutdown wait for the loops); the connections belong
// to their loop's goroutine, as always.
type Group struct {
	members []*member
	wg      sync.WaitGroup
	mu      sync.Mutex // guards stopped
	stopped bool
	next    int // round-robin cursor for Unix acceptors; first loop only
}

// member is one loop of a group and what the group keeps on it. Loop
// goroutine only, except loop and done.
//
// Its connections keep its books themselves (their shared.m), not a
// wrapped Handler: Conn.open calls track before OnOpen, Conn.callClose
// calls forget before OnClose and maybeDone after it, whatever handler
// the connection has by then (SetHandler).
type member struct {
	loop      *eddy.Loop
	keep      eddy.Timer // keeps Run running until Shutdown
	drain     eddy.Timer // aborts the connections left at the drain deadline
	listeners []*Listener
	conns     int          // open connections (found in the loop's loopState)
	states    []*loopState // references the group holds, released at the end
	stopping  bool
	err       error // Run's error
}

// NewGroup creates the loops of a group configured by c (nil for the
// defaults) and starts their goroutines.
func NewGroup(c *GroupConfig) (*Group, error) {
	var cfg GroupConfig
	if c != nil {
		cfg = *c
	}
	n := cfg.Loops
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	if cfg.Loop.Backend != nil && n != 1 {
		return nil, fmt.Errorf("evnet: group of %d loops given one Config.Backend: a backend serves one loop (use Config.BackendName)", n)
	}
	g := &Group{}
	for range n {
		l, err := eddy.NewLoop(&cfg.Loop)
		if err != nil {
			for _, m := range g.members {
				m.loop.Close()
			}
			return nil, fmt.Errorf("evnet: group: %w", err)
		}
		g.members = append(g.members, &member{loop: l})
	}
	for _, m := range g.members {
		ready := make(chan struct{})
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			if cfg.LockOSThread {
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
			}
			m.keep.Init(func(*eddy.Timer) {}, time.Hour, time.Hour)
			m.loop.Post(func() { m.keep.Start(m.loop); close(ready) })
			m.err = m.loop.Run()
		}()
		<-ready
	}
	return g, nil
}

// Len returns the number of loops.
func (g *Group) Len() int { return len(g.members) }

// Loop returns the i-th loop (0 ≤ i < Len).
func (g *Group) Loop(i int) *eddy.Loop { return g.members[i].loop }

// Post runs f on the i-th loop's goroutine (see eddy.Loop.Post).
func (g *Group) Post(i int, f func()) { g.members[i].loop.Post(f) }

// do runs f on m's loop and waits for it.
func (m *member) do(f func()) {
	done := make(chan struct{})
	m.loop.Post(func() { f(); close(done) })
	<-done
}

// Listen listens on address on every loop (see ListenConfig.Listen for
// the networks and addresses) and serves the connections with h; the
// group tracks them for Shutdown. A TCP port 0 is resolved by the first
// loop's listener and shared by the others. With more than one loop, TCP
// listeners get SO_REUSEPORT. It returns the first loop's
// listener, whose Addr is the address in use.
func (g *Group) Listen(network, address string, lc ListenConfig, h Handler) (*Listener, error) {
	g.mu.Lock()
	stopped := g.stopped
	g.mu.Unlock()
	if stopped {
		return nil, ErrClosed
	}
	if lc.TLS != nil {
		lc.TLS = lc.TLS.once() // one tls.Config for all: resumption works on any loop
	}
	var first *Listener
	var err error
	if network == "unix" {
		m := g.members[0]
		m.do(func() {
			first, err = lc.listen(m.loop, network, address, h, m)
			if err == nil {
				m.listeners = append(m.listeners, first)
			}
		})
		if err != nil {
			return nil, err
		}
		shs := make([]*shared, len(g.members))
		for i, mi := range g.members {
			mi.do(func() {
				shs[i] = &shared{h: h, o: first.sh.o, ls: acquire(mi.loop), m: mi, tls: first.sh.tls.forLoop(), st: first.sh.st}
				mi.states = append(mi.states, shs[i].ls)
			})
		}
		m.do(func() { first.dispatch = func(fd int) { g.handOff(shs, fd) } })
		return first, nil
	}
	lc.ReusePort = lc.ReusePort || len(g.members) > 1
	var others []*Listener
	for i, m := range g.members {
		addr := address
		if i > 0 {
			addr = first.Addr().String()
		}
		var ln *Listener
		m.do(func() {
			ln, err = lc.listen(m.loop, network, addr, h, m)
			if err == nil {
				m.listeners = append(m.listeners, ln)
			}
		})
		if err != nil {
			return nil, err
		}
		if i == 0 {
			first = ln
		} else {
			others = append(others, ln)
		}
	}
	first.group = others
	return first, nil
}

// handOff gives an accepted descriptor to the next loop, round-robin.
// First loop's goroutine only.
func (g *Group) handOff(shs []*shared, fd int) {
	i := g.next
	g.next = (g.next + 1) % len(g.members)
	m := g.members[i]
	sh := shs[i]
	serve := func() {
		if m.stopping {
			unix.Close(fd)
			sh.st.closed[CloseError].Add(1)
			return
		}
		c := newConn(sh, fd)
		if err := c.start(eddy.Read); err != nil {
			unix.Close(fd)
			sh.st.closed[CloseError].Add(1)
			return
		}
		c.accepted()
	}
	if i == 0 {
		serve()
		return
	}
	m.loop.Post(serve)
}

// track counts c, a connection just opened.
func (m *member) track(*Conn) { m.conns++ }

// forget counts c, a connection of m's, closed.
func (m *member) forget(*Conn) { m.conns-- }

// each calls f for each open connection of m's.
func (m *member) each(f func(c *Conn)) {
	statesMu.Lock()
	ls := states[m.loop]
	statesMu.Unlock()
	if ls == nil {
		return
	}
	var mine []*Conn
	for _, c := range ls.conns {
		if c.sh.m == m && c.flags&fOpened != 0 {
			mine = append(mine, c)
		}
	}
	for _, c := range mine {
		f(c)
	}
}

// maybeDone ends m's loop once it is stopping and has no connection left.
func (m *member) maybeDone() {
	if m.stopping && m.conns == 0 {
		m.drain.Stop()
		m.keep.Stop()
		m.loop.Break(eddy.BreakAll)
	}
}

// Shutdown stops the group: it closes the listeners, closes every
// connection gracefully (Close: the queued output is still sent), resets
// the connections still open after drain, waits for the loops'
// goroutines to end and closes the loops. It returns the first error of a
// loop's Run.
func (g *Group) Shutdown(drain time.Duration) error {
	g.mu.Lock()
	if g.stopped {
		g.mu.Unlock()
		return ErrClosed
	}
	g.stopped = true
	g.mu.Unlock()
	// The listeners first, one loop after the other: once the first loop's
	// are closed, every descriptor it handed off has been posted ahead of
	// what follows.
	for _, m := range g.members {
		m.do(func() {
			for _, ln := range m.listeners {
				ln.Close()
			}
			m.listeners = nil
		})
	}
	for _, m := range g.members {
		m.loop.Post(func() {
			m.stopping = true
			m.drain.Init(func(*eddy.Timer) {
				m.each(func(c *Conn) { c.Abort() })
			}, drain, 0)
			m.drain.Start(m.loop)
			m.each(func(c *Conn) { c.Close() })
			m.maybeDone()
		})
	}
	g.wg.Wait()
	var errs []error
	for _, m := range g.members {
		if m.err != nil {
			errs = append(errs, m.err)
		}
		for _, ls := range m.states {
			ls.release()
		}
		m.loop.Close()
	}
	return errors.Join(errs...)
}
