package wsconform

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Grade is a case's verdict, as Autobahn|Testsuite gives them.
type Grade int

const (
	// OK: the peer did what RFC 6455 (and RFC 7692) asks.
	OK Grade = iota
	// Informational: the case has no required behaviour; the reason
	// says what the peer did.
	Informational
	// NonStrict: the peer did not fail, but did what the RFC permits
	// rather than what it recommends (a late fail on invalid UTF-8,
	// pongs only for the last of several pings, ...).
	NonStrict
	// Unimplemented: the peer declined what the case needs (the
	// permessage-deflate offer).
	Unimplemented
	// Failed: the peer broke the RFC or did not answer as it must.
	Failed
)

func (g Grade) String() string {
	switch g {
	case OK:
		return "OK"
	case Informational:
		return "INFORMATIONAL"
	case NonStrict:
		return "NON-STRICT"
	case Unimplemented:
		return "UNIMPLEMENTED"
	}
	return "FAILED"
}

// Config configures a run of the table.
type Config struct {
	// URL is the echo server's WebSocket URL (RunClient only): ws:// or
	// wss://, on loopback.
	URL string
	// TLS is the client configuration for wss:// (its RootCAs, say).
	TLS *tls.Config
	// Short shortens group 9 and the compression groups (go test -short).
	Short bool
	// Match selects cases by ID; nil runs them all. See MatchIDs.
	Match func(id string) bool
	// Timeout bounds one case; 0 means 10 s, and 60 s for groups 9, 12
	// and 13 (which a slow peer may need).
	Timeout time.Duration
	// Log, if set, is called with each result as it is graded.
	Log func(Result)
}

// MatchIDs returns a Match function for a comma-separated list of case
// IDs and prefixes: "1,2.1,6.4.*,12" runs group 1, case 2.1, the cases
// 6.4.x and group 12. A leading "-" excludes: "-9,-12,-13".
func MatchIDs(list string) func(string) bool {
	var inc, exc []string
	for _, p := range strings.Split(list, ",") {
		p = strings.TrimSuffix(strings.TrimSpace(p), ".*")
		if p == "" {
			continue
		}
		if strings.HasPrefix(p, "-") {
			exc = append(exc, p[1:])
		} else {
			inc = append(inc, p)
		}
	}
	under := func(id, p string) bool { return id == p || strings.HasPrefix(id, p+".") }
	return func(id string) bool {
		for _, p := range exc {
			if under(id, p) {
				return false
			}
		}
		if len(inc) == 0 {
			return true
		}
		for _, p := range inc {
			if under(id, p) {
				return true
			}
		}
		return false
	}
}

func (cfg *Config) timeout(cs *Case) time.Duration {
	if cfg.Timeout > 0 {
		return cfg.Timeout
	}
	if cs.group() == 9 || cs.group() >= 12 {
		return 60 * time.Second
	}
	return 10 * time.Second
}

// RunClient runs the table as a fuzzing client against the echo server
// at cfg.URL and returns the report. It returns an error only when the
// URL is unusable; a server that cannot be reached fails each case.
func RunClient(ctx context.Context, cfg Config) (*Report, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "ws" && u.Scheme != "wss" {
		return nil, fmt.Errorf("wsconform: URL scheme %q, want ws or wss", u.Scheme)
	}
	rep := &Report{Side: "server"}
	for i := range table {
		cs := &table[i]
		if cfg.Match != nil && !cfg.Match(cs.ID) {
			continue
		}
		if ctx.Err() != nil {
			break
		}
		cctx, cancel := context.WithTimeout(ctx, cfg.timeout(cs))
		t := newT(cctx, cfg.Short, false)
		t.open = func(offers []ext) (*conn, string, error) {
			return dial(cctx, u, cfg.TLS, offers)
		}
		res := t.run(cs)
		cancel()
		rep.Results = append(rep.Results, res)
		if cfg.Log != nil {
			cfg.Log(res)
		}
	}
	return rep, nil
}

// errAbort stops a case's script after a grade that ends it.
var errAbort = errors.New("case aborted")

// T runs one case: it opens connections, writes and grades.
type T struct {
	ctx      context.Context
	deadline time.Time
	short    bool
	mirror   bool // the runner is the server; the peer is a client
	open     func(offers []ext) (*conn, string, error)
	opened   int
	conns    []*conn
	grade    Grade
	reasons  []string
	started  time.Time
}

func newT(ctx context.Context, short, mirror bool) *T {
	dl, _ := ctx.Deadline()
	return &T{ctx: ctx, deadline: dl, short: short, mirror: mirror}
}

func (t *T) run(cs *Case) (res Result) {
	t.started = time.Now()
	defer func() {
		if r := recover(); r != nil && r != errAbort {
			t.set(Failed, "runner panic: %v", r)
		}
		for _, c := range t.conns {
			_, _, _, v := c.snapshot()
			if v != "" {
				t.set(Failed, "the peer sent %s", v)
			}
			c.shutdown()
		}
		res = Result{ID: cs.ID, Desc: cs.Desc, Grade: t.grade, Duration: time.Since(t.started)}
		res.Reason = strings.Join(t.reasons, "; ")
		if res.Reason == "" {
			res.Reason = cs.Expect
		}
	}()
	cs.Run(t)
	return
}

// set records a grade; the worst one stands, and its reason comes first.
func (t *T) set(g Grade, format string, args ...any) {
	r := fmt.Sprintf(format, args...)
	switch {
	case g > t.grade:
		t.grade = g
		t.reasons = append([]string{r}, t.reasons...)
	case g == t.grade && g != OK:
		t.reasons = append(t.reasons, r)
	}
}

func (t *T) failf(format string, args ...any) { t.set(Failed, format, args...) }

// note adds a reason without changing the grade.
func (t *T) note(format string, args ...any) {
	t.reasons = append(t.reasons, fmt.Sprintf(format, args...))
}

// canReopen reports whether a case may open more than one connection
// (the mirror serves one per case).
func (t *T) canReopen() bool { return !t.mirror }

// conn opens a connection without extensions.
func (t *T) conn() *conn { return t.connWith(nil) }

func (t *T) connWith(offers []ext) *conn {
	if t.mirror && t.opened > 0 {
		panic("wsconform: a mirrored case opened a second connection")
	}
	t.opened++
	c, note, err := t.open(offers)
	if err != nil {
		t.failf("connect: %v", err)
		panic(errAbort)
	}
	if note != "" {
		t.set(NonStrict, "%s", note)
	}
	t.conns = append(t.conns, c)
	return c
}

// expect waits for the peer to send the items want after the ones it
// already matched, and compares them. It fails the case if they differ.
func (t *T) expect(c *conn, consumed *int, want ...item) bool {
	n := *consumed + len(want)
	c.wait(t.deadline, func() bool { return len(c.items) >= n || c.ended() })
	items, ci, eof, _ := c.snapshot()
	got := items[*consumed:min(len(items), n)]
	for i, w := range want {
		if i >= len(got) {
			why := "timed out"
			if ci != nil {
				why = "it sent " + ci.String()
			} else if eof != nil {
				why = "it closed the connection"
			}
			t.failf("expected %s, %s (%d of %d items came)", w, why, len(got), len(want))
			*consumed += len(got)
			return false
		}
		if g := got[i]; g.op != w.op || !bytes.Equal(g.data, w.data) {
			t.failf("expected %s, got %s", w, describeDiff(w, g))
			*consumed += len(got)
			return false
		}
	}
	*consumed = n
	return true
}

func describeDiff(w, g item) string {
	if g.op == w.op && len(g.data) == len(w.data) {
		for i := range g.data {
			if g.data[i] != w.data[i] {
				return fmt.Sprintf("%s differing at byte %d", g, i)
			}
		}
	}
	return g.String()
}

// closeNormally ends a connection the case expects to be healthy: the
// runner sends close 1000 (with the frames extra after it), expects the
// peer's close (1000, or without a code) with nothing unmatched before
// it, and, facing a server, the server to close TCP first.
func (t *T) closeNormally(c *conn, consumed int, extra ...wf) {
	t.closeWith(c, consumed, closeF(1000, ""), []int{1000}, extra...)
}

// closeWith sends the close frame cf (and extra behind it in one write)
// and expects a close answer with one of codes (or no code).
func (t *T) closeWith(c *conn, consumed int, cf wf, codes []int, extra ...wf) *closeInfo {
	c.send(append([]wf{cf}, extra...)...)
	c.wait(t.deadline, c.ended)
	items, ci, eof, _ := c.snapshot()
	if len(items) > consumed {
		t.failf("unexpected %s before the close", items[consumed])
	}
	switch {
	case ci == nil && eof == nil:
		t.failf("no close frame in answer to ours: timed out")
	case ci == nil:
		t.failf("the connection closed (%v) without a close frame in answer to ours", eof)
	case ci.invalid != "":
		t.failf("answered our close with %s", ci.invalid)
	case ci.code != 0 && !slices.Contains(codes, ci.code):
		t.failf("answered our close with %d, expected %v", ci.code, codes)
	}
	t.awaitTCPClose(c)
	return ci
}

// awaitTCPClose: a server closes the TCP connection first (RFC 6455
// 7.1.1); the mirror, as the server, does it itself.
func (t *T) awaitTCPClose(c *conn) {
	if t.mirror {
		c.flushAsync() // our answer to the client's close goes first
		c.nc.Close()
		return
	}
	if !c.wait(t.deadline, func() bool { return c.eof != nil }) {
		t.set(NonStrict, "the server did not close the TCP connection after the close handshake (RFC 6455 7.1.1)")
	}
}

// expectFail expects the peer to fail the connection: its close with one
// of codes, or the connection dropped, after sending the items prefix.
// When optional is set, a peer that fails before sending prefix (it
// read ahead and found the fault first) is NON-STRICT.
func (t *T) expectFail(c *conn, consumed int, optional bool, codes []int, prefix ...item) {
	c.wait(t.deadline, c.ended)
	items, ci, eof, _ := c.snapshot()
	got := items[consumed:]
	switch {
	case len(got) == len(prefix):
		for i := range got {
			if got[i].op != prefix[i].op || !bytes.Equal(got[i].data, prefix[i].data) {
				t.failf("expected %s before the fail, got %s", prefix[i], got[i])
			}
		}
	case len(got) < len(prefix) && optional && len(got) == 0:
		t.set(NonStrict, "failed without first answering the valid frames sent ahead of the bad one")
	case len(got) < len(prefix):
		t.failf("expected %s before the fail, it did not come", prefix[len(got)])
	default:
		t.failf("unexpected %s: it should have failed the connection", got[len(prefix)])
	}
	switch {
	case ci == nil && eof == nil:
		t.failf("did not fail the connection: no close within %s", t.deadline.Sub(t.started).Round(time.Second))
		return
	case ci == nil:
		t.note("dropped the connection without a close frame")
	case ci.invalid != "":
		t.failf("failed with a malformed close: %s", ci.invalid)
	case !slices.Contains(codes, ci.code):
		t.failf("failed with %s, expected %v", ci, codes)
	default:
		t.note("failed with %s", ci)
	}
	t.awaitTCPClose(c)
}

// failsWithin reports whether the peer fails (closes or drops) the
// connection within d, without waiting longer.
func (t *T) failsWithin(c *conn, d time.Duration) bool {
	dl := time.Now().Add(d)
	if dl.After(t.deadline) {
		dl = t.deadline
	}
	return c.wait(dl, c.ended)
}

// Result is one case's grade.
type Result struct {
	ID       string
	Desc     string
	Grade    Grade
	Reason   string
	Duration time.Duration
}

func (r Result) String() string {
	return fmt.Sprintf("%-8s %-13s %s", r.ID, r.Grade, r.Reason)
}

// Report is a run's results, in table order.
type Report struct {
	Side    string // "server" (the peer under test was a server) or "client"
	Results []Result
}

// NotOK returns the results graded neither OK nor INFORMATIONAL (the
// grade of cases that require nothing): what a test asserting "all OK"
// prints.
func (r *Report) NotOK() []Result {
	var out []Result
	for _, res := range r.Results {
		if res.Grade != OK && res.Grade != Informational {
			out = append(out, res)
		}
	}
	return out
}

// Grades maps case IDs to grades.
func (r *Report) Grades() map[string]Grade {
	m := make(map[string]Grade, len(r.Results))
	for _, res := range r.Results {
		m[res.ID] = res.Grade
	}
	return m
}

// Summary returns a line per group: the count of each grade and the time
// the group took.
func (r *Report) Summary() string {
	type agg = tally
	var order []int
	groups := map[int]*agg{}
	for _, res := range r.Results {
		g := groupOf(res.ID)
		a := groups[g]
		if a == nil {
			a = &agg{}
			groups[g] = a
			order = append(order, g)
		}
		a.n[res.Grade]++
		a.dur += res.Duration
	}
	var b strings.Builder
	var total agg
	for _, g := range order {
		a := groups[g]
		fmt.Fprintf(&b, "%-3d %-30s %s\n", g, groupNames[g], a.line())
		for i, n := range a.n {
			total.n[i] += n
		}
		total.dur += a.dur
	}
	fmt.Fprintf(&b, "all %-30s %s\n", "", total.line())
	return b.String()
}

// tally counts grades.
type tally struct {
	n   [Failed + 1]int
	dur time.Duration
}

func (a *tally) line() string {
	var parts []string
	sum := 0
	for g, n := range a.n {
		sum += n
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", Grade(g), n))
		}
	}
	return fmt.Sprintf("%4d cases  %-60s %s", sum, strings.Join(parts, ", "), a.dur.Round(10*time.Millisecond))
}

// String returns every result, a line each.
func (r *Report) String() string {
	var b strings.Builder
	for _, res := range r.Results {
		b.WriteString(res.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// TB is the part of testing.TB that Check uses.
type TB interface {
	Helper()
	Errorf(format string, args ...any)
	Logf(format string, args ...any)
}

// Check reports to t every result whose grade is not the one expected:
// known maps case IDs to the grade a peer is known to get (NON-STRICT,
// FAILED, INFORMATIONAL...), every other case must be OK. It logs the
// summary and each known result with its reason, and returns whether all
// matched. A known case that now grades OK is logged, not an error, so
// that fixing a peer does not break its test.
func (r *Report) Check(t TB, peer string, known map[string]Grade) bool {
	t.Helper()
	var total time.Duration
	for _, res := range r.Results {
		total += res.Duration
	}
	t.Logf("%s as the %s: %d cases in %s:\n%s", peer, r.Side, len(r.Results), total.Round(time.Millisecond), r.Summary())
	ok := true
	for _, res := range r.Results {
		want, isKnown := known[res.ID]
		switch {
		case res.Grade == want && want != OK:
			t.Logf("known: %s", res)
		case isKnown && res.Grade == OK:
			t.Logf("now OK, expected %s: %s", want, res)
		case res.Grade != want:
			t.Errorf("%s: %s, want %s", peer, res, want)
			ok = false
		}
	}
	return ok
}
