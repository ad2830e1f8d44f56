package evproxy

import (
	"strings"
	"time"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evhttp/evclient"
)

// Defaults of active health checks (HealthCheck).
const (
	// DefaultHealthInterval is the default HealthCheck.Interval.
	DefaultHealthInterval = 5 * time.Second
	// DefaultHealthTimeout is the default HealthCheck.Timeout.
	DefaultHealthTimeout = 2 * time.Second
)

// HealthCheck configures the active health checks of a Proxy's upstream
// addresses: a GET of Path on each, every Interval, from each loop.
type HealthCheck struct {
	// Path is the path (and query) to ask for: "/healthz". Empty means no
	// active checks.
	Path string
	// Interval is the time between the starts of two checks of an
	// address (default DefaultHealthInterval), and Timeout how long a
	// check may take, connect included (default DefaultHealthTimeout,
	// at most Interval); a check that takes longer fails.
	Interval, Timeout time.Duration
	// Status is the status a check must get to pass; zero means any 2xx
	// or 3xx.
	Status int
	// Fails is the number of failed checks in a row that mark an address
	// down, and Passes the number of passed checks in a row that mark it
	// up again (default 1 each).
	Fails, Passes int
	// Host is the Host field of the checks (default: the upstream URL's
	// host and port).
	Host string
}

// withDefaults returns h with its defaults filled in.
func (h HealthCheck) withDefaults() HealthCheck {
	h.Interval = max(h.Interval, 0)
	if h.Interval == 0 {
		h.Interval = DefaultHealthInterval
	}
	if h.Timeout <= 0 {
		h.Timeout = DefaultHealthTimeout
	}
	h.Timeout = min(h.Timeout, h.Interval)
	h.Fails = max(h.Fails, 1)
	h.Passes = max(h.Passes, 1)
	if !strings.HasPrefix(h.Path, "/") {
		h.Path = "/" + h.Path
	}
	return h
}

// checker is a backend's active health state; loop goroutine only.
type checker struct {
	call    *evclient.Call // the check in progress
	running bool           // a check was started and has not ended
	fails   int            // failed checks in a row
	passes  int            // passed checks in a row
	req     evclient.Request
	done    func(*evclient.Response, error) // the callback, made once
}

// startChecks starts the loop's health checks, the first round at once.
// The timer does not keep the loop's Run from returning.
func (ls *loopState) startChecks() {
	ls.hc.Init(ls.onHealthTimer, 0, 0)
	ls.hc.Start(ls.l)
	ls.hc.Unref()
}

// onHealthTimer starts a round of checks, or ends the one in progress at
// its timeout (what has not answered failed) and sets the timer for the
// next round.
func (ls *loopState) onHealthTimer(*eddy.Timer) {
	hc := &ls.p.cfg.HealthCheck
	if ls.checking {
		ls.checking = false
		for _, b := range ls.backends {
			if b.hc.running {
				b.hc.call.Cancel()
				ls.checked(b, false)
			}
		}
		if rest := hc.Interval - hc.Timeout; rest > 0 {
			ls.hc.Set(rest, 0)
			ls.hc.Start(ls.l)
			return
		}
	}
	ls.checking = true
	for _, b := range ls.backends {
		ls.check(b)
	}
	ls.hc.Set(hc.Timeout, 0)
	ls.hc.Start(ls.l)
}

// check starts a check of b.
func (ls *loopState) check(b *backend) {
	if b.hc.running {
		return
	}
	if b.hc.done == nil {
		hc := &ls.p.cfg.HealthCheck
		u := ls.p.upstreams[b.up]
		host := hc.Host
		if host == "" {
			host = u.Host
		}
		b.hc.req = evclient.Request{URL: b.base + hc.Path, Host: host}
		b.hc.done = func(resp *evclient.Response, err error) {
			b.hc.call = nil
			ls.checked(b, err == nil && ls.passes(resp.Status))
		}
	}
	b.hc.running = true
	call := ls.freshClient(b).Do(&b.hc.req, b.hc.done)
	if b.hc.running {
		b.hc.call = call
	}
}

// passes reports whether a check that got status passes.
func (ls *loopState) passes(status int) bool {
	if want := ls.p.cfg.HealthCheck.Status; want != 0 {
		return status == want
	}
	return status >= 200 && status < 400
}

// checked counts the outcome of b's check: Fails failures in a row mark it
// down, Passes passes in a row up again.
func (ls *loopState) checked(b *backend, ok bool) {
	hc := &ls.p.cfg.HealthCheck
	b.hc.running = false
	b.hc.call = nil
	b.sampleOpen()
	if ok {
		b.hc.fails = 0
		b.hc.passes++
		if b.down && b.hc.passes >= hc.Passes {
			b.down = false
			b.setShown(ls.l.Now())
			ls.dispatch()
		}
		return
	}
	b.hc.passes = 0
	b.hc.fails++
	if !b.down && b.hc.fails >= hc.Fails {
		b.down = true
		b.fig.downs.Add(1)
		b.setShown(ls.l.Now())
	}
}
