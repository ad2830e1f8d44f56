package eddy

import "time"

// Embed runs another loop inside this one: "does a loop nested in this one
// have work?" (libev's ev_embed). While it is active, the outer loop watches
// the inner loop's backend descriptor (see Loop.Fd) and keeps a timer at
// the inner loop's next deadline (see Loop.Timeout), recomputed at the start
// of every outer iteration. When either fires, the Embed's callback runs; it
// is expected to call Sweep, which runs one iteration of the inner loop
// without waiting. With a nil callback, the Embed sweeps by itself.
//
// Everything the inner loop watches is then served while only the outer
// loop runs: its timers, IO, posted functions, Async and Signal watchers.
// The inner loop must be driven only this way while embedded: it belongs to
// the outer loop's goroutine, and must not be run by another.
//
// The inner loop needs a backend with a descriptor (epoll or kqueue): an
// inner loop on poll(2) cannot be embedded, and Start returns
// ErrNotPollable. The outer loop may use any backend. Only the Embed itself
// keeps the outer loop's Run alive, not the internal watchers it uses; Unref
// on the Embed works as on any watcher. Closing the outer loop stops its
// Embeds; closing the inner loop stops the Embed at the next outer
// iteration, with Err reporting ErrClosed.
//
// An Embed is a watcher like the others: it works from its zero value, the
// loop never allocates it, and its priority orders its callback among the
// outer loop's pending callbacks.
type Embed struct {
	watcher
	cb    func(e *Embed)
	inner *Loop
	err   error // the last error of Sweep, or why the Embed stopped

	io   IO      // Read interest on the inner loop's descriptor
	tm   Timer   // the inner loop's next deadline
	prep Prepare // recomputes tm before each outer wait

	closeOn *Loop // the outer loop whose onClose already stops this Embed
}

// NewEmbed returns an Embed initialised with Init.
func NewEmbed(cb func(e *Embed), inner *Loop) *Embed {
	e := new(Embed)
	e.Init(cb, inner)
	return e
}

// Init sets the callback and the loop to embed. The callback runs, on the
// outer loop, whenever the inner loop has work; it should call Sweep (or
// inner.RunNoWait). A nil callback means Sweep. Init must not be called
// while the Embed is active.
func (e *Embed) Init(cb func(e *Embed), inner *Loop) {
	if e.active {
		return
	}
	e.cb = cb
	e.inner = inner
}

// Inner returns the embedded loop.
func (e *Embed) Inner() *Loop { return e.inner }

// Err returns the error of the last Sweep, or ErrClosed if the Embed was
// stopped because the inner loop was closed, or nil.
func (e *Embed) Err() error { return e.err }

// Start starts hosting the inner loop in l. Starting an active Embed does
// nothing. It returns ErrEmbedSelf if the inner loop is nil or is l,
// ErrNotPollable if the inner loop's backend has no descriptor, ErrClosed
// if either loop is closed, and the outer backend's error if it refuses
// the inner loop's descriptor.
func (e *Embed) Start(l *Loop) error {
	if e.active {
		return nil
	}
	if e.inner == nil || e.inner == l {
		return ErrEmbedSelf
	}
	if l.closed || e.inner.closed {
		return ErrClosed
	}
	fd, err := e.inner.Fd()
	if err != nil {
		return err
	}
	e.activate(l)
	e.err = nil

	e.io.Init(e.onIO, fd, Read)
	e.io.Unref()
	if err := e.io.Start(l); err != nil {
		e.deactivate()
		return err
	}
	e.tm.Init(e.onTimer, 0, 0)
	e.tm.Unref()
	e.prep.Init(e.onPrepare)
	e.prep.Unref()
	e.prep.Start(l)
	if e.closeOn != l {
		// Once per outer loop, however often the Embed is restarted on it.
		e.closeOn = l
		l.onClose = append(l.onClose, func() {
			if e.active && e.loop == l {
				e.Stop()
			}
		})
	}
	return nil
}

// Stop stops hosting the inner loop. Stopping an inactive Embed does
// nothing; a pending callback is forgotten. The inner loop is left as it
// is, and can be run on its own again.
func (e *Embed) Stop() {
	if !e.active {
		e.clearPending()
		return
	}
	e.io.Stop()
	e.tm.Stop()
	e.prep.Stop()
	e.deactivate()
}

// Sweep runs one iteration of the inner loop without waiting (its
// RunNoWait), which invokes the callbacks of everything it has ready, and
// returns that iteration's error, which Err also reports until the next
// Sweep. It is meant for the Embed's callback, on the outer loop's
// goroutine.
func (e *Embed) Sweep() error {
	if e.inner == nil {
		return ErrEmbedSelf
	}
	e.err = e.inner.RunNoWait()
	return e.err
}

func (e *Embed) invoke(Events) {
	if e.cb != nil {
		e.cb(e)
	} else {
		e.Sweep()
	}
}

// onPrepare runs at the start of every outer iteration: it points the
// timer at the inner loop's next deadline and tells the inner loop that it
// is about to sleep, so that its Post, Wake and Async.Send write its
// wake-up descriptor, which makes its backend descriptor readable.
func (e *Embed) onPrepare(*Prepare) {
	in, l := e.inner, e.loop
	if in.closed {
		e.err = ErrClosed
		e.Stop()
		return
	}
	d, ok := in.Timeout() // announces the sleep, then looks for work already sent
	if !ok {
		e.tm.Stop()
		return
	}
	// Timeout counts from the present, the timer from l's cached time.
	after := d + time.Duration(int64(l.clock.Monotonic())-l.now)
	if after > 0 && e.tm.active {
		e.tm.SetRepeat(after)
		e.tm.Again()
		return
	}
	e.tm.Stop()
	e.tm.Set(after, 0)
	e.tm.Start(l)
}

func (e *Embed) onIO(w *IO, ev Events) {
	if w.Err() != nil { // the outer backend dropped the descriptor
		e.err = w.Err()
		e.Stop()
		return
	}
	e.fire()
}

func (e *Embed) onTimer(*Timer) { e.fire() }

// fire queues the Embed's callback once, however many of its internal
// watchers fired in this iteration.
func (e *Embed) fire() {
	if e.inner.closed {
		e.err = ErrClosed
		e.Stop()
		return
	}
	e.loop.queue(e, 0)
}
