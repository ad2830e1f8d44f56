package evhttp

// A Server's state on one loop (loopServer): its connections and
// listeners, the exchanges kept for reuse, the coalescing of a callback's
// output into one write (enter, leave), the kick that resumes connections
// in the next pass of the loop, its clock, and the Date line, formatted once
// per second.

import (
	"sync/atomic"
	"time"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evhttp/internal/h1"
	"github.com/eddyloop/eddy/evnet"
)

// loopServer is a Server's state on one loop. Loop goroutine only, except
// srv, cfg and loop, which are immutable.
type loopServer struct {
	srv  *Server
	cfg  *config
	loop *eddy.Loop

	conns     []*conn // open connections; each knows its index
	listeners []*evnet.Listener
	free      []*exchange // exchanges ready for reuse

	// out is the coalescing buffer of the connection whose callback is
	// running (batch): its responses are appended here and handed to it
	// in one Write when the callback ends. aux serves the writes made
	// outside such a batch, which are written at once.
	out, aux []byte
	batch    *conn

	// kick runs, in the current or next pass of the loop, the
	// connections of kicked that have work to resume (held input, a
	// body to deliver, a drain to report). It is fed, never started.
	kick    eddy.Check
	kicked  []*conn
	kickFed bool

	count  uint64        // exchanges over
	served atomic.Uint64 // count as published for Served: at the end of each batch (leave), at once outside one

	st *serverCounters // Stats' figures (stats.go)

	base  int64 // ls.clock's zero: the loop's Monotonic at its first call
	based bool  // base is set

	date      []byte        // "Date: ...\r\n", formatted once per second
	dateUntil time.Duration // on the loop's Monotonic clock
	dateGen   uint64        // counts the formattings of date, from 1

	head headCache // the last response head built whole (appendHead)

	reparse h1.Parser // re-parses the heads that outlive the read buffer

	draining bool
	reported bool
	drainT   eddy.Timer
}

func newLoopServer(s *Server, l *eddy.Loop) *loopServer {
	// Not the loop's time yet: this may run on another goroutine
	// (ServeGroup's), while the loop runs; clock takes it.
	ls := &loopServer{srv: s, cfg: s.cfg, loop: l, draining: s.closing, st: new(serverCounters)}
	ls.kick.Init(ls.onKick)
	ls.reparse.Limits = &s.cfg.limits
	return ls
}

// clock returns the loop's time in nanoseconds since its first call, plus
// one: never zero, which fields of this clock keep for "none".
func (ls *loopServer) clock() int64 {
	now := int64(ls.loop.Monotonic())
	if !ls.based {
		ls.base, ls.based = now, true
	}
	return now - ls.base + 1
}

// dateLine returns the Date field line for the current second.
func (ls *loopServer) dateLine() []byte {
	now := ls.loop.Monotonic()
	if ls.date == nil || now >= ls.dateUntil {
		wall := ls.loop.Wall()
		ls.date = h1.AppendDateHeader(ls.date[:0], wall)
		ls.dateGen++
		ls.dateUntil = now + time.Second - time.Duration(wall.Nanosecond())
	}
	return ls.date
}

// get returns an exchange ready for a new request.
func (ls *loopServer) get() *exchange {
	if n := len(ls.free); n > 0 {
		x := ls.free[n-1]
		ls.free[n-1] = nil
		ls.free = ls.free[:n-1]
		x.reset()
		return x
	}
	x := &exchange{}
	x.r.x = x
	x.w.x = x
	return x
}

// put takes back an exchange that is over. It is cleared when it is
// taken again, not now: the callback that ended it may still be running
// and calling its methods, which must keep failing with ErrEnded. get is
// only called by pump, never from inside a handler's callback.
func (ls *loopServer) put(x *exchange) {
	if len(ls.free) < maxFree {
		ls.free = append(ls.free, x)
	}
}

// enter starts a batch for hc: its output is coalesced in ls.out until
// leave.
func (ls *loopServer) enter(hc *conn) *conn {
	prev := ls.batch
	if prev != nil && prev != hc {
		prev.flushOut()
	}
	ls.batch = hc
	return prev
}

// leave ends hc's batch: the coalesced output goes out in one Write.
func (ls *loopServer) leave(hc, prev *conn) {
	hc.flushOut()
	ls.batch = prev
	if ls.served.Load() != ls.count {
		ls.served.Store(ls.count) // one store per batch, not per request
	}
	ls.st.publish()
}

// wakeConn schedules hc.resume in the current or next pass of the loop.
func (ls *loopServer) wakeConn(hc *conn) {
	if hc.flags&cKicked != 0 {
		return
	}
	hc.flags |= cKicked
	ls.kicked = append(ls.kicked, hc)
	if !ls.kickFed {
		ls.kickFed = true
		ls.loop.Feed(&ls.kick, 0)
	}
}

func (ls *loopServer) onKick(*eddy.Check) {
	ls.kickFed = false
	for i := 0; i < len(ls.kicked); i++ {
		hc := ls.kicked[i]
		ls.kicked[i] = nil
		hc.flags &^= cKicked
		if hc.flags&cClosed != 0 {
			continue
		}
		prev := ls.enter(hc)
		hc.resume()
		ls.leave(hc, prev)
	}
	ls.kicked = ls.kicked[:0]
}

// add and remove keep ls.conns.
func (ls *loopServer) add(hc *conn) {
	hc.slot = int32(len(ls.conns))
	ls.conns = append(ls.conns, hc)
}

func (ls *loopServer) remove(hc *conn) {
	i, last := int(hc.slot), len(ls.conns)-1
	if i < 0 || i > last || ls.conns[i] != hc {
		return
	}
	ls.conns[i] = ls.conns[last]
	ls.conns[i].slot = int32(i)
	ls.conns[last] = nil
	ls.conns = ls.conns[:last]
	hc.slot = -1
}
