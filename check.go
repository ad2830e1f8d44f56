package eddy

// Check calls back in every iteration after the wait, once the events of
// the iteration are queued, in the same invocation pass as their callbacks
// (at its priority, after the events of equal priority).
type Check struct {
	watcher
	cb  func(w *Check)
	idx int32
}

// Init sets the callback.
func (w *Check) Init(cb func(w *Check)) { w.cb = cb }

// Start starts the watcher. Starting an active one does nothing, nor does
// starting on a closed loop.
func (w *Check) Start(l *Loop) {
	if w.active || l.closed {
		return
	}
	w.activate(l)
	l.checks.add(w)
}

// Stop stops the watcher; a pending callback is forgotten.
func (w *Check) Stop() {
	if !w.active {
		w.clearPending()
		return
	}
	w.loop.checks.remove(w)
	w.deactivate()
}

func (w *Check) slot() *int32     { return &w.idx }
func (w *Check) invoke(ev Events) { w.cb(w) }
