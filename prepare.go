package eddy

// Prepare calls back at the start of every iteration, just before the loop
// applies its interest changes and waits. Together with Check it lets other
// code hook into the loop: a Prepare callback may start watchers for the
// coming wait, and the matching Check callback collect what happened.
type Prepare struct {
	watcher
	cb  func(w *Prepare)
	idx int32
}

// Init sets the callback.
func (w *Prepare) Init(cb func(w *Prepare)) { w.cb = cb }

// Start starts the watcher. Starting an active one does nothing, nor does
// starting on a closed loop.
func (w *Prepare) Start(l *Loop) {
	if w.active || l.closed {
		return
	}
	w.activate(l)
	l.prepares.add(w)
}

// Stop stops the watcher; a pending callback is forgotten.
func (w *Prepare) Stop() {
	if !w.active {
		w.clearPending()
		return
	}
	w.loop.prepares.remove(w)
	w.deactivate()
}

func (w *Prepare) slot() *int32     { return &w.idx }
func (w *Prepare) invoke(ev Events) { w.cb(w) }
