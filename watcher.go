package eddy

// Priorities order the callbacks that are pending in one iteration: all
// pending callbacks of a higher priority run before any of a lower one, and
// callbacks of equal priority run in the order their events were queued.
const (
	MinPriority = -2 // the lowest priority
	MaxPriority = 2  // the highest priority
	numPriority = MaxPriority - MinPriority + 1
)

// Watcher is what every watcher type has in common. It is implemented only
// by this package's watcher types (IO, Timer, Periodic, Signal, Child, Idle,
// Prepare, Check, Async, Stat, Embed).
type Watcher interface {
	// IsActive reports whether the watcher is started.
	IsActive() bool
	// IsPending reports whether the watcher's callback is queued to run in
	// this iteration.
	IsPending() bool
	// Stop stops the watcher; its callback does not run again until it is
	// started again, even if it was pending.
	Stop()

	hdr() *watcher
	invoke(Events)
}

// watcher is the header every watcher type embeds (libev's EV_WATCHER). Its
// fields belong to the loop goroutine.
type watcher struct {
	loop     *Loop // the loop it was last started on or fed to
	active   bool
	unref    bool  // does not keep Run alive
	priority int8  // MinPriority..MaxPriority
	pending  int32 // 1 + index in loop.pend[priority], 0 when not pending
}

func (w *watcher) hdr() *watcher { return w }

// IsActive reports whether the watcher is started.
func (w *watcher) IsActive() bool { return w.active }

// IsPending reports whether the watcher's callback is queued to run in the
// current iteration. A stopped watcher is never pending.
func (w *watcher) IsPending() bool { return w.pending != 0 }

// Loop returns the loop the watcher was last started on, or nil.
func (w *watcher) Loop() *Loop { return w.loop }

// Priority returns the watcher's priority, between MinPriority and
// MaxPriority; the zero value is 0.
func (w *watcher) Priority() int { return int(w.priority) }

// SetPriority sets the watcher's priority, clamped to MinPriority and
// MaxPriority. It has no effect while the watcher is active or pending.
func (w *watcher) SetPriority(p int) {
	if w.active || w.pending != 0 {
		return
	}
	w.priority = int8(max(MinPriority, min(MaxPriority, p)))
}

// Unref makes the watcher not count as keeping Run alive: Run returns when
// only unreferenced watchers are active (libuv's uv_unref). It may be called
// at any time on the loop goroutine, whether the watcher is active or not.
func (w *watcher) Unref() {
	if w.unref {
		return
	}
	w.unref = true
	if w.active {
		w.loop.refs--
	}
}

// Ref undoes Unref: the watcher keeps Run alive while it is active, which is
// the default.
func (w *watcher) Ref() {
	if !w.unref {
		return
	}
	w.unref = false
	if w.active {
		w.loop.refs++
	}
}

// HasRef reports whether the watcher keeps Run alive while active.
func (w *watcher) HasRef() bool { return !w.unref }

// activate marks the watcher active on l.
func (w *watcher) activate(l *Loop) {
	l.checkGoroutine() // before any change: a foreign goroutine's panic leaves the loop intact
	if w.pending != 0 && w.loop != l {
		w.loop.unqueue(w)
	}
	w.loop = l
	w.active = true
	if !w.unref {
		l.refs++
	}
}

// clearPending forgets the pending callback of an inactive watcher: one the
// loop stopped just before queueing it (a one-shot Timer or Periodic, a
// OneShot IO, an IO the backend refused) or one fed with Loop.Feed. Stop
// calls it on an inactive watcher, so that a stopped watcher never runs.
func (w *watcher) clearPending() {
	if w.pending != 0 {
		w.loop.unqueue(w)
	}
}

// deactivate marks the watcher stopped and forgets its pending callback.
func (w *watcher) deactivate() {
	l := w.loop
	l.checkGoroutine()
	l.unqueue(w)
	w.active = false
	if !w.unref {
		l.refs--
	}
}

// list is an unordered set of watchers of one kind with O(1) removal; each
// member remembers its slot.
type list[T interface {
	comparable
	slot() *int32
}] struct {
	items []T
}

func (s *list[T]) add(w T) {
	*w.slot() = int32(len(s.items))
	s.items = append(s.items, w)
}

func (s *list[T]) remove(w T) {
	i := *w.slot()
	last := len(s.items) - 1
	if i != int32(last) {
		s.items[i] = s.items[last]
		*s.items[i].slot() = i
	}
	var zero T
	s.items[last] = zero
	s.items = s.items[:last]
	*w.slot() = -1
}
