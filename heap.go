package eddy

import "time"

// timerHeap is a 4-ary min-heap of deadlines on the monotonic clock, shared
// by Timers and Periodics. Each entry caches its deadline and start order,
// so that sifting touches only the heap array, and each node knows its
// index, so that Stop is O(log n). A 4-ary heap is shallower than a binary
// one and keeps a node's children in one or two cache lines (libev's
// 4-heap, and the Go runtime's timer heap).
type timerHeap []heapEntry

type heapEntry struct {
	at  int64  // deadline, monotonic ns
	seq uint64 // start order: equal deadlines fire in start order
	n   *timeNode
}

// timeNode is embedded in every timed watcher.
type timeNode struct {
	index int32 // position in the heap while active
	w     timed // the watcher that embeds this node
}

// timed is a watcher kept in the timer heap.
type timed interface {
	Watcher
	// expire runs when the watcher's entry is at the top of the heap and
	// due: it queues the callback and reschedules or removes the entry.
	expire(l *Loop)
}

func (a *heapEntry) before(b *heapEntry) bool {
	return a.at < b.at || a.at == b.at && a.seq < b.seq
}

func (l *Loop) heapPush(n *timeNode, at int64) {
	l.timerSeq++
	l.timers = append(l.timers, heapEntry{at: at, seq: l.timerSeq, n: n})
	l.heapUp(len(l.timers) - 1)
}

// heapRemove removes the entry at i.
func (l *Loop) heapRemove(i int) {
	h := l.timers
	last := len(h) - 1
	h[i].n.index = -1
	if i != last {
		h[i] = h[last]
		h[i].n.index = int32(i)
	}
	h[last] = heapEntry{}
	l.timers = h[:last]
	if i != last {
		l.heapFix(i)
	}
}

// heapSet gives the entry at i a new deadline and start order.
func (l *Loop) heapSet(i int, at int64) {
	l.timerSeq++
	l.timers[i].at, l.timers[i].seq = at, l.timerSeq
	l.heapFix(i)
}

func (l *Loop) heapFix(i int) {
	if i > 0 && l.timers[i].before(&l.timers[(i-1)/4]) {
		l.heapUp(i)
	} else {
		l.heapDown(i)
	}
}

func (l *Loop) heapUp(i int) {
	h := l.timers
	e := h[i]
	for i > 0 {
		p := (i - 1) / 4
		if !e.before(&h[p]) {
			break
		}
		h[i] = h[p]
		h[i].n.index = int32(i)
		i = p
	}
	h[i] = e
	e.n.index = int32(i)
}

func (l *Loop) heapDown(i int) {
	h := l.timers
	n := len(h)
	e := h[i]
	for {
		c := 4*i + 1
		if c >= n {
			break
		}
		best := c
		for j, end := c+1, min(c+4, n); j < end; j++ {
			if h[j].before(&h[best]) {
				best = j
			}
		}
		if !h[best].before(&e) {
			break
		}
		h[i] = h[best]
		h[i].n.index = int32(i)
		i = best
	}
	h[i] = e
	e.n.index = int32(i)
}

// queueTimers queues every Timer and Periodic that is due.
func (l *Loop) queueTimers() {
	if l.nperiod > 0 {
		l.checkWallClock()
	}
	if len(l.timers) > 0 && l.timers[0].at <= l.now {
		// The loop's lag: how late the earliest is seen, one sample per
		// iteration (the others were due later, so less late).
		l.pub.lag.Observe(time.Duration(l.now - l.timers[0].at))
	}
	for len(l.timers) > 0 && l.timers[0].at <= l.now {
		l.timers[0].n.w.expire(l)
	}
}
