package eddy

import (
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// Signal calls back on the loop when the process receives a signal. Go's
// runtime owns signal delivery, so eddy asks for signals through os/signal
// and forwards each to every loop watching it: several loops, and several
// watchers in one loop, may watch the same signal. Signals that arrive
// before the loop gets to them coalesce into one callback.
//
// While at least one Signal watches a signal, the process no longer takes
// that signal's default action (for SIGINT and SIGTERM: exiting); when the
// last one stops, the default comes back unless other code of the program
// called signal.Notify for it too. SIGKILL and SIGSTOP cannot be watched.
type Signal struct {
	watcher
	cb  func(s *Signal)
	sig syscall.Signal
	idx int32
}

// Init sets the callback and the signal.
func (s *Signal) Init(cb func(s *Signal), sig syscall.Signal) {
	s.cb = cb
	s.Set(sig)
}

// Set changes the signal of a stopped watcher; it has no effect on an
// active one.
func (s *Signal) Set(sig syscall.Signal) {
	if !s.active {
		s.sig = sig
	}
}

// Signum returns the watched signal.
func (s *Signal) Signum() syscall.Signal { return s.sig }

// Start starts watching the signal. Starting an active watcher does
// nothing. It returns ErrBadSignal for signals outside 1..64 and for
// SIGKILL and SIGSTOP, and ErrClosed on a closed loop.
func (s *Signal) Start(l *Loop) error {
	if s.active {
		return nil
	}
	if l.closed {
		return ErrClosed
	}
	if s.sig <= 0 || s.sig > 64 || s.sig == syscall.SIGKILL || s.sig == syscall.SIGSTOP {
		return fmt.Errorf("%w: %d", ErrBadSignal, int(s.sig))
	}
	s.activate(l)
	if l.sigs == nil {
		l.sigs = make(map[syscall.Signal]*list[*Signal])
		l.onClose = append(l.onClose, l.stopSignals)
	}
	ws := l.sigs[s.sig]
	if ws == nil {
		ws = new(list[*Signal])
		l.sigs[s.sig] = ws
	}
	ws.add(s)
	if len(ws.items) == 1 {
		bridge.watch(s.sig, l)
	}
	return nil
}

// Stop stops watching; a pending callback is forgotten.
func (s *Signal) Stop() {
	if !s.active {
		s.clearPending()
		return
	}
	l := s.loop
	ws := l.sigs[s.sig]
	ws.remove(s)
	if len(ws.items) == 0 {
		bridge.unwatch(s.sig, l)
	}
	s.deactivate()
}

func (s *Signal) slot() *int32     { return &s.idx }
func (s *Signal) invoke(ev Events) { s.cb(s) }

// queueSignals queues the watchers of the signals whose bits are set.
func (l *Loop) queueSignals(bits uint64) {
	for sig := syscall.Signal(1); bits != 0; sig++ {
		if bits&1 != 0 {
			if ws := l.sigs[sig]; ws != nil {
				for _, s := range ws.items {
					l.queue(s, 0)
				}
			}
		}
		bits >>= 1
	}
}

func (l *Loop) stopSignals() {
	for _, ws := range l.sigs {
		for len(ws.items) > 0 {
			ws.items[0].Stop()
		}
	}
}

// bridge forwards signals from os/signal to the loops watching them: one
// channel and one goroutine per watched signal number, which exit when no
// loop watches it any more.
var bridge signalBridge

type signalBridge struct {
	mu    sync.Mutex
	loops map[syscall.Signal]map[*Loop]bool
	chans map[syscall.Signal]chan os.Signal
}

func (b *signalBridge) watch(sig syscall.Signal, l *Loop) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.loops == nil {
		b.loops = make(map[syscall.Signal]map[*Loop]bool)
		b.chans = make(map[syscall.Signal]chan os.Signal)
	}
	if b.loops[sig] == nil {
		b.loops[sig] = make(map[*Loop]bool)
		ch := make(chan os.Signal, 1)
		b.chans[sig] = ch
		signal.Notify(ch, sig)
		go b.forward(sig, ch)
	}
	b.loops[sig][l] = true
}

func (b *signalBridge) unwatch(sig syscall.Signal, l *Loop) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.loops[sig], l)
	if len(b.loops[sig]) == 0 {
		delete(b.loops, sig)
		ch := b.chans[sig]
		delete(b.chans, sig)
		signal.Stop(ch)
		close(ch)
	}
}

func (b *signalBridge) forward(sig syscall.Signal, ch chan os.Signal) {
	bit := uint64(1) << (sig - 1)
	for range ch {
		b.mu.Lock()
		for l := range b.loops[sig] {
			l.sigSent.Or(bit)
			l.wakeup()
		}
		b.mu.Unlock()
	}
}
