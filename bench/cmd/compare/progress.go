package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// progress keeps a status line at the bottom of a terminal ("round 2/3 gnet
// echo64 | 41% | 3m10s elapsed, ~4m30s left"), redrawn every tick; log lines
// written through it appear above it. On a non-terminal it prints the status
// as a plain line whenever it changes.
type progress struct {
	mu      sync.Mutex
	w       io.Writer
	tty     bool
	start   time.Time
	total   time.Duration // estimated work
	doneEst time.Duration // estimated work completed
	text    string
	quit    chan struct{}
	stopped bool
}

func newProgress(f *os.File, every time.Duration) *progress {
	p := &progress{w: f, start: time.Now(), quit: make(chan struct{})}
	if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
		p.tty = true
		go func() {
			t := time.NewTicker(every)
			defer t.Stop()
			for {
				select {
				case <-p.quit:
					return
				case <-t.C:
					p.mu.Lock()
					p.draw()
					p.mu.Unlock()
				}
			}
		}()
	}
	return p
}

// begin sets the estimated total amount of work.
func (p *progress) begin(total time.Duration) {
	p.mu.Lock()
	p.total, p.start = total, time.Now()
	p.mu.Unlock()
}

// status sets what is running now.
func (p *progress) status(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.text = s
	if p.tty {
		p.draw()
	} else if !p.stopped {
		fmt.Fprintf(p.w, "progress: %s\n", p.line())
	}
}

// done counts est of the estimated work as completed.
func (p *progress) done(est time.Duration) {
	p.mu.Lock()
	p.doneEst += est
	p.mu.Unlock()
}

func (p *progress) line() string {
	el := time.Since(p.start)
	pct, left := 0.0, time.Duration(0)
	if p.total > 0 {
		pct = min(float64(p.doneEst)/float64(p.total), 1)
		if p.doneEst > 0 {
			// scale the estimate by how fast the run has gone so far
			left = time.Duration(float64(el) / float64(p.doneEst) * float64(p.total-p.doneEst))
		} else {
			left = p.total
		}
	}
	return fmt.Sprintf("%s | %3.0f%% | %s elapsed, ~%s left", p.text, 100*pct, el.Round(time.Second), left.Round(time.Second))
}

func (p *progress) draw() {
	if p.tty && !p.stopped && p.text != "" {
		fmt.Fprintf(p.w, "\r\033[K%s", p.line())
	}
}

// Write writes a log line above the status line.
func (p *progress) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty && !p.stopped {
		fmt.Fprint(p.w, "\r\033[K")
	}
	n, err := p.w.Write(b)
	p.draw()
	return n, err
}

// stop removes the status line; later writes pass straight through.
func (p *progress) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return
	}
	p.stopped = true
	close(p.quit)
	if p.tty {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
