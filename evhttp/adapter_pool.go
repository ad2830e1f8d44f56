package evhttp

import (
	"sync"
	"time"
)

// adPool is the adapter's bounded set of handler goroutines. Workers are
// started on demand, up to size, and each exits after idle without work,
// so that an idle server holds none. Requests that find every worker busy
// wait in a FIFO queue of at most maxQueue; past it, submit refuses them.
// Its methods are safe for concurrent use: the loops of a group share it.
type adPool struct {
	size     int
	maxQueue int
	idle     time.Duration

	mu      sync.Mutex // guards what follows
	workers int        // goroutines alive, busy or parked
	parked  []*adWorker
	queue   []*adReq // waiting for a worker; queue[head:] is live
	head    int
}

// adWorker is a parked worker's mailbox.
type adWorker struct {
	wake chan *adReq // capacity 1: submit never blocks
}

// Results of submit.
const (
	adRefused uint8 = iota // the workers and the queue are full
	adQueued               // waiting for a busy worker
	adReadied              // a worker was woken or started for it
)

// submit hands ar to a worker: a parked one, a new one if fewer than size
// are alive, or the queue. With adReadied it returns the number of
// workers busy, ar's included.
func (p *adPool) submit(ar *adReq) (uint8, int) {
	p.mu.Lock()
	if n := len(p.parked); n > 0 {
		w := p.parked[n-1] // the most recently parked: its stack is warm
		p.parked[n-1] = nil
		p.parked = p.parked[:n-1]
		busy := p.workers - len(p.parked)
		p.mu.Unlock()
		w.wake <- ar
		return adReadied, busy
	}
	if p.workers < p.size {
		p.workers++
		busy := p.workers - len(p.parked)
		p.mu.Unlock()
		go p.work(ar)
		return adReadied, busy
	}
	if len(p.queue)-p.head >= p.maxQueue {
		p.mu.Unlock()
		return adRefused, 0
	}
	p.queue = append(p.queue, ar)
	p.mu.Unlock()
	return adQueued, 0
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

// work is a worker goroutine: it serves ar, then the queue, then parks
// until submit wakes it or idle passes.
func (p *adPool) work(ar *adReq) {
	w := &adWorker{wake: make(chan *adReq, 1)}
	t := time.NewTimer(p.idle)
	t.Stop()
	exited := false
	defer func() {
		if !exited { // the handler called runtime.Goexit: this worker is gone
			p.mu.Lock()
			p.workers--
			p.mu.Unlock()
		}
	}()
	for {
		ar.run()
		p.mu.Lock()
		if next := p.nextLocked(); next != nil {
			p.mu.Unlock()
			ar = next
			continue
		}
		p.parked = append(p.parked, w)
		p.mu.Unlock()
		t.Reset(p.idle)
		select {
		case ar = <-w.wake:
			t.Stop()
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
				exited = true
				return
			}
		}
		p.mu.Unlock()
		// submit took this worker just as the timer fired: its request is
		// on the way.
		ar = <-w.wake
	}
}
