package eddy

// Idle calls back when the loop has nothing else to do: it is queued only
// in iterations where no other callback is pending, and while one is active
// the loop does not sleep. Use it for low-priority background work done in
// small steps, and stop it when the work is done, or the loop spins.
type Idle struct {
	watcher
	cb  func(w *Idle)
	idx int32
}

// Init sets the callback.
func (w *Idle) Init(cb func(w *Idle)) { w.cb = cb }

// Start starts the watcher. Starting an active one does nothing, nor does
// starting on a closed loop.
func (w *Idle) Start(l *Loop) {
	if w.active || l.closed {
		return
	}
	w.activate(l)
	l.idles.add(w)
}

// Stop stops the watcher; a pending callback is forgotten.
func (w *Idle) Stop() {
	if !w.active {
		w.clearPending()
		return
	}
	w.loop.idles.remove(w)
	w.deactivate()
}

func (w *Idle) slot() *int32     { return &w.idx }
func (w *Idle) invoke(ev Events) { w.cb(w) }
