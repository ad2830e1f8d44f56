package evhttp

// The adapter's pool of goroutines (adPool), which run the handlers: a
// bounded set of workers started on demand, parked when idle and gone
// after AdapterConfig.IdleTimeout, with a FIFO queue of requests in front
// of them.

import (
	"runtime"
	"sync"
	"time"
)

// adPool is the adapter's bounded set of handler goroutines. Requests
// wait in a FIFO queue for a worker; workers are started on demand, up to
// size, and each exits after idle without work, so that an idle server
// holds none. The queue holds at most maxQueue requests beyond those the
// workers not yet busy can take; past it, submit refuses them.
//
// One worker at a time is woken (or started) for the queue: the worker
// that takes a request wakes the next one if requests are left, before it
// runs its own. A burst of requests that do not block is then served by
// one or two goroutines taking turns on the queue, not one hand-off per
// request; a handler that blocks has a successor already woken to take
// the rest. A worker serves a request and then the requests pipelined
// behind it on the same connection (adConn.following), so that one
// connection's handlers run one after another, as net/http runs them.
//
// Its methods are safe for concurrent use: the loops of a group share it.
type adPool struct {
	size     int
	maxQueue int
	idle     time.Duration

	mu      sync.Mutex // guards what follows
	workers int        // goroutines alive
	running int        // workers serving requests
	waking  int        // workers woken or started that have not looked at the queue yet
	parked  []*adWorker
	queue   []*adReq // waiting for a worker; queue[head:] is live
	head    int
}

// adWorker is a parked worker's mailbox.
type adWorker struct {
	wake chan struct{} // capacity 1: a wake-up never blocks
}

// Results of submit.
const (
	adRefused uint8 = iota // the workers and the queue are full
	adQueued               // queued, with a worker already on its way
	adReadied              // queued, and a worker woken or started for it
)

// submit queues ar for a worker, waking or starting one if none is on its
// way, or refuses it when the queue is full. With adReadied it also
// reports whether no other request is being served: ar is then the only
// one.
func (p *adPool) submit(ar *adReq) (uint8, bool) {
	p.mu.Lock()
	if len(p.queue)-p.head >= p.size-p.running+p.maxQueue {
		p.mu.Unlock()
		return adRefused, false
	}
	p.queue = append(p.queue, ar)
	w, start := p.wakeLocked()
	alone := p.running == 0
	p.mu.Unlock()
	return p.wakeUp(w, start), alone
}

// wakeLocked picks the worker to wake for the queue: none if one is on
// its way already, else the most recently parked one (its stack is warm),
// else a new one if fewer than size are alive. p.mu must be held.
func (p *adPool) wakeLocked() (*adWorker, bool) {
	if p.waking > 0 {
		return nil, false
	}
	if n := len(p.parked); n > 0 {
		w := p.parked[n-1]
		p.parked[n-1] = nil
		p.parked = p.parked[:n-1]
		p.waking++
		return w, false
	}
	if p.workers < p.size {
		p.workers++
		p.waking++
		return nil, true
	}
	return nil, false
}

// wakeUp carries out what wakeLocked decided, without p.mu.
func (p *adPool) wakeUp(w *adWorker, start bool) uint8 {
	switch {
	case w != nil:
		w.wake <- struct{}{}
	case start:
		go p.work()
	default:
		return adQueued
	}
	return adReadied
}

// nextLocked takes the oldest queued request, or nil. p.mu must be held.
func (p *adPool) nextLocked() *adReq {
	if p.head == len(p.queue) {
		return nil
	}
	ar := p.queue[p.head]
	p.queue[p.head] = nil
	p.head++
	if p.head == len(p.queue) {
		p.queue, p.head = p.queue[:0], 0
	}
	return ar
}

// work is a worker goroutine, started as a waking one: it serves the
// queue, then parks until it is woken again or idle passes.
func (p *adPool) work() {
	w := &adWorker{wake: make(chan struct{}, 1)}
	var t *time.Timer
	serving := false
	defer func() {
		if serving { // the handler called runtime.Goexit: this worker is gone
			p.mu.Lock()
			p.workers--
			p.running--
			wk, start := (*adWorker)(nil), false
			if p.head < len(p.queue) {
				wk, start = p.wakeLocked()
			}
			p.mu.Unlock()
			p.wakeUp(wk, start)
		}
	}()
	p.mu.Lock()
	p.waking--
	for {
		if ar := p.nextLocked(); ar != nil {
			p.running++
			wk, start := (*adWorker)(nil), false
			if p.head < len(p.queue) {
				// More to do: have a successor on its way, in case this
				// handler blocks.
				wk, start = p.wakeLocked()
			}
			p.mu.Unlock()
			p.wakeUp(wk, start)
			serving = true
			p.serve(ar)
			serving = false
			p.mu.Lock()
			p.running--
			continue
		}
		p.parked = append(p.parked, w)
		p.mu.Unlock()
		if t == nil {
			t = time.NewTimer(p.idle)
		} else {
			t.Reset(p.idle)
		}
		select {
		case <-w.wake:
			t.Stop()
			p.mu.Lock()
			p.waking--
			continue
		case <-t.C:
		}
		p.mu.Lock()
		for i, pw := range p.parked {
			if pw == w {
				last := len(p.parked) - 1
				copy(p.parked[i:], p.parked[i+1:])
				p.parked[last] = nil
				p.parked = p.parked[:last]
				p.workers--
				p.mu.Unlock()
				return
			}
		}
		p.mu.Unlock()
		// wakeLocked took this worker just as the timer fired: its wake-up
		// is on the way.
		<-w.wake
		p.mu.Lock()
		p.waking--
	}
}

// serve runs ar's handler, then those of the requests pipelined behind it
// on its connection, one after another. A request of another adapter
// (two adapters behind one Handler) goes to its own pool.
func (p *adPool) serve(ar *adReq) {
	for ar != nil {
		clean := true
		if &ar.a.pool == p {
			clean = ar.run()
		} else if res, _ := ar.a.pool.submit(ar); res != adRefused {
			return // that pool serves it, and the rest of the connection's
		} else {
			ar.refuse()
		}
		ar = ar.ac.following(ar, clean)
	}
}

// yieldAfterSubmit reports whether the loop should yield its processor
// after submitting a request that is the only one being served (see
// adapter.ServeHTTP1). With GOMAXPROCS=1 the loop yields anyway before it
// waits for events, after the rest of its iteration: not here.
func yieldAfterSubmit() bool { return runtime.GOMAXPROCS(0) > 1 }
