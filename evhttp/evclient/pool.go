package evclient

// The pool. The connections of a host (its pool key: host and port) are
// its pool; a connection goes
//
//	dialling -> open (busy: requests in flight) <-> idle (in the pool) -> closed
//
// An idle connection has an idle timeout (evnet's,
// on its timing wheel) and is dropped as soon as its close is seen (EOF,
// reset, timeout); a busy one is never in the idle list, so a connection
// is handed to one request at a time, or to several in order with
// pipelining. The idle connections of all hosts also form one list, least
// recently used first, from which MaxIdleConns takes.

import (
	"slices"
)

// host is the pool of one host (host and port: the scheme is always
// http): its connections, the idle ones among them, and the calls
// waiting for one. A host is forgotten when it has neither connections
// nor calls waiting. Loop goroutine only.
type host struct {
	client  *Client
	key     hostKey
	conns   int     // connections dialling, busy or idle
	open    []*conn // the same connections
	idle    []*conn // the idle ones, most recently used last
	waiting []*Call // calls waiting for a connection, from wHead on
	wHead   int     // index of the first waiting call
	busy    bool    // schedule is running
	again   bool    // schedule must look again
}

func (h *host) queued() int { return len(h.waiting) - h.wHead }

// push adds a call at the end of the queue.
func (h *host) push(call *Call) { h.waiting = append(h.waiting, call) }

// pop takes the first call off the queue.
func (h *host) pop() *Call {
	call := h.waiting[h.wHead]
	h.waiting[h.wHead] = nil
	h.wHead++
	if h.wHead == len(h.waiting) {
		h.waiting, h.wHead = h.waiting[:0], 0
	} else if h.wHead >= 64 && h.wHead*2 >= len(h.waiting) {
		n := copy(h.waiting, h.waiting[h.wHead:])
		clear(h.waiting[n:])
		h.waiting, h.wHead = h.waiting[:n], 0
	}
	return call
}

// remove takes a call out of the queue, wherever it is.
func (h *host) remove(call *Call) {
	for i := h.wHead; i < len(h.waiting); i++ {
		if h.waiting[i] == call {
			if i == h.wHead {
				h.pop()
				return
			}
			h.waiting = slices.Delete(h.waiting, i, i+1)
			return
		}
	}
}

// schedule hands the waiting calls to connections: an idle one, a
// pipeline slot (with Pipelining), or a new connection while the host is
// under MaxConnsPerHost. It may be reached again from the callbacks it
// causes (a write that fails and retries, a dial that fails at once): the
// inner call only asks the running one to look again.
func (h *host) schedule() {
	if h.busy {
		h.again = true
		return
	}
	h.busy = true
	for {
		h.again = false
		h.scheduleOnce()
		if !h.again {
			break
		}
	}
	h.busy = false
	h.maybeDrop()
}

func (h *host) scheduleOnce() {
	c := h.client
	for h.queued() > 0 && !c.closed {
		call := h.waiting[h.wHead]
		if cc := h.popIdle(); cc != nil {
			h.pop()
			cc.startCall(call)
			continue
		}
		if c.cfg.Pipelining && call.pipelinable() {
			if cc := h.pipelineConn(); cc != nil {
				h.pop()
				cc.startCall(call)
				continue
			}
		}
		if h.conns < c.cfg.MaxConnsPerHost {
			h.pop()
			h.dial(call)
			continue
		}
		break
	}
}

// pipelineConn returns the open connection with the fewest requests in
// flight that may take one more behind them, or nil.
func (h *host) pipelineConn() *conn {
	var best *conn
	max := h.client.cfg.MaxPipeline
	for _, cc := range h.open {
		if cc.state != connOpen || cc.closing || cc.closeAfter || cc.writer != nil ||
			len(cc.calls) == 0 || len(cc.calls) >= max {
			continue
		}
		ok := true
		for _, other := range cc.calls {
			if !other.pipelinable() {
				ok = false
				break
			}
		}
		if ok && (best == nil || len(cc.calls) < len(best.calls)) {
			best = cc
		}
	}
	return best
}

// popIdle takes the most recently used idle connection, or returns nil.
func (h *host) popIdle() *conn {
	n := len(h.idle)
	if n == 0 {
		return nil
	}
	cc := h.idle[n-1]
	h.unidle(cc)
	return cc
}

// release takes back a connection that finished its requests: it serves
// a waiting call, or waits in the pool (within the idle limits), or is
// closed.
func (h *host) release(cc *conn) {
	c := h.client
	if c.closed || cc.closeAfter || cc.closing {
		cc.shut()
		return
	}
	if h.queued() == 0 && (c.cfg.MaxIdleConns < 0 || c.cfg.MaxIdleConnsPerHost < 0) {
		cc.shut()
		return
	}
	// Into the pool, most recent last, and at the tail of the client's
	// LRU list.
	cc.inIdle = true
	h.idle = append(h.idle, cc)
	cc.idlePrev, cc.idleNext = c.idleTail, nil
	if c.idleTail != nil {
		c.idleTail.idleNext = cc
	} else {
		c.idleHead = cc
	}
	c.idleTail = cc
	c.idle++
	if c.cfg.IdleTimeout > 0 {
		cc.nc.SetIdleTimeout(c.cfg.IdleTimeout)
	}
	h.schedule()
	if !cc.inIdle {
		return // taken at once
	}
	if len(h.idle) > c.cfg.MaxIdleConnsPerHost {
		old := h.idle[0]
		h.unidle(old)
		old.shut()
	}
	for c.idle > c.cfg.MaxIdleConns && c.idleHead != nil {
		old := c.idleHead
		old.host.unidle(old)
		old.shut()
	}
}

// unidle takes a connection out of the pool.
func (h *host) unidle(cc *conn) {
	if !cc.inIdle {
		return
	}
	c := h.client
	cc.inIdle = false
	if i := slices.Index(h.idle, cc); i >= 0 {
		h.idle = slices.Delete(h.idle, i, i+1)
	}
	if cc.idlePrev != nil {
		cc.idlePrev.idleNext = cc.idleNext
	} else {
		c.idleHead = cc.idleNext
	}
	if cc.idleNext != nil {
		cc.idleNext.idlePrev = cc.idlePrev
	} else {
		c.idleTail = cc.idlePrev
	}
	cc.idlePrev, cc.idleNext = nil, nil
	c.idle--
	if c.cfg.IdleTimeout > 0 && cc.state == connOpen && !cc.closing {
		cc.nc.SetIdleTimeout(0)
	}
}

// removeConn forgets a connection that closed.
func (h *host) removeConn(cc *conn) {
	h.unidle(cc)
	if i := slices.Index(h.open, cc); i >= 0 {
		h.open = slices.Delete(h.open, i, i+1)
		h.conns--
	}
}

// maybeDrop forgets the host when nothing refers to it any more.
func (h *host) maybeDrop() {
	if h.conns == 0 && h.queued() == 0 && !h.busy && h.client.hosts[h.key] == h {
		delete(h.client.hosts, h.key)
	}
}
