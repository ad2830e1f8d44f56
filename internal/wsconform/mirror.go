package wsconform

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Mirror runs the table with the runner as the server, against a client
// under test that echoes what it receives, as Autobahn's fuzzing server
// does. The protocol, on the mirror's URL:
//
//	/getCaseCount           a text message with the number of cases, then a close
//	/runCase?case=N         case N (1-based, in table order of the selected
//	                        cases): the client echoes every text and binary
//	                        message it receives, as it received it, until
//	                        the connection closes
//	/updateReports          a close (accepted for compatibility)
//
// Run drives it: it calls the client for each case. A client that
// drives itself (getCaseCount, then runCase 1..N) works too: Report
// returns what was graded so far.
type Mirror struct {
	cfg   Config
	cases []*Case
	ln    net.Listener
	srv   *http.Server

	mu      sync.Mutex
	results map[int]Result
	done    map[int]chan struct{}
	wg      sync.WaitGroup
}

// NewMirror listens on a loopback port and serves the protocol above.
// cfg.URL is ignored; cfg.Match, Short, Timeout and Log apply.
func NewMirror(cfg Config) (*Mirror, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	m := &Mirror{cfg: cfg, ln: ln, results: map[int]Result{}, done: map[int]chan struct{}{}}
	for i := range table {
		if cfg.Match == nil || cfg.Match(table[i].ID) {
			m.cases = append(m.cases, &table[i])
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/getCaseCount", m.getCaseCount)
	mux.HandleFunc("/runCase", m.runCase)
	mux.HandleFunc("/updateReports", m.updateReports)
	m.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go m.srv.Serve(ln)
	return m, nil
}

// URL is the mirror's base URL, ws://127.0.0.1:PORT.
func (m *Mirror) URL() string { return "ws://" + m.ln.Addr().String() }

// CaseCount is the number of selected cases.
func (m *Mirror) CaseCount() int { return len(m.cases) }

// CaseURL is the URL of case n (1-based).
func (m *Mirror) CaseURL(n int) string { return fmt.Sprintf("%s/runCase?case=%d", m.URL(), n) }

// Close stops the mirror and waits for running cases.
func (m *Mirror) Close() error {
	err := m.srv.Close()
	m.wg.Wait()
	return err
}

func (m *Mirror) doneChan(n int) chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	ch := m.done[n]
	if ch == nil {
		ch = make(chan struct{})
		m.done[n] = ch
	}
	return ch
}

func (m *Mirror) getCaseCount(w http.ResponseWriter, r *http.Request) {
	c, err := upgrade(w, r, nil)
	if err != nil {
		return
	}
	c.send(text(strconv.Itoa(len(m.cases))), closeF(1000, ""))
	c.wait(time.Now().Add(5*time.Second), c.ended)
	c.shutdown()
}

func (m *Mirror) updateReports(w http.ResponseWriter, r *http.Request) {
	c, err := upgrade(w, r, nil)
	if err != nil {
		return
	}
	c.send(closeF(1000, ""))
	c.wait(time.Now().Add(5*time.Second), c.ended)
	c.shutdown()
}

func (m *Mirror) runCase(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(r.URL.Query().Get("case"))
	if err != nil || n < 1 || n > len(m.cases) {
		http.Error(w, "no such case", http.StatusNotFound)
		return
	}
	cs := m.cases[n-1]
	m.mu.Lock()
	_, ran := m.results[n]
	m.mu.Unlock()
	if ran {
		http.Error(w, "case already run", http.StatusConflict)
		return
	}
	m.wg.Add(1)
	defer m.wg.Done()
	ctx, cancel := context.WithTimeout(context.Background(), m.cfg.timeout(cs))
	defer cancel()
	t := newT(ctx, m.cfg.Short, true)
	c, uerr := upgrade(w, r, cs.pmd)
	t.open = func([]ext) (*conn, string, error) {
		if uerr != nil {
			return nil, "", fmt.Errorf("handshake: %v", uerr)
		}
		return c, "", nil
	}
	res := t.run(cs)
	m.mu.Lock()
	m.results[n] = res
	m.mu.Unlock()
	if m.cfg.Log != nil {
		m.cfg.Log(res)
	}
	close(m.doneChan(n))
}

// Run runs every selected case: for each, it calls client with the
// case's URL (in a goroutine) and waits for the grade. The client
// connects once, echoes until the connection closes, and returns; its
// error, if any, is noted in the result. A client that does not connect
// within the case's timeout fails the case.
func (m *Mirror) Run(ctx context.Context, client func(ctx context.Context, url string) error) *Report {
	for i, cs := range m.cases {
		n := i + 1
		if ctx.Err() != nil {
			break
		}
		cctx, cancel := context.WithTimeout(ctx, m.cfg.timeout(cs)+5*time.Second)
		errc := make(chan error, 1)
		go func() { errc <- client(cctx, m.CaseURL(n)) }()
		var cerr error
		clientDone := false
		select {
		case <-m.doneChan(n):
		case cerr = <-errc:
			clientDone = true
			// The client gave up: wait for the case to end, if it started.
			select {
			case <-m.doneChan(n):
			case <-time.After(2 * time.Second):
			}
		case <-cctx.Done():
		}
		m.mu.Lock()
		res, ok := m.results[n]
		if !ok {
			res = Result{ID: cs.ID, Desc: cs.Desc, Grade: Failed, Reason: "the client did not connect"}
			if cerr != nil {
				res.Reason += ": " + cerr.Error()
			}
			m.results[n] = res
			if m.cfg.Log != nil {
				m.cfg.Log(res)
			}
		}
		m.mu.Unlock()
		if !clientDone {
			select {
			case cerr = <-errc:
			case <-time.After(5 * time.Second):
				cerr = fmt.Errorf("the client did not return within 5 s of the case's end")
			}
		}
		_ = cerr // a client reports a failed connection as an error: the grade says what matters
		cancel()
	}
	return m.Report()
}

// Report returns the results graded so far, in table order.
func (m *Mirror) Report() *Report {
	m.mu.Lock()
	defer m.mu.Unlock()
	rep := &Report{Side: "client"}
	for i := range m.cases {
		if res, ok := m.results[i+1]; ok {
			rep.Results = append(rep.Results, res)
		}
	}
	return rep
}
