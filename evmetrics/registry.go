package evmetrics

// The Registry: what is exposed (loops, servers, listeners, WebSocket
// upgraders, the program's own collectors), the snapshot of a scrape, and
// the /metrics handler.

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evhttp"
	"github.com/eddyloop/eddy/evnet"
	"github.com/eddyloop/eddy/evws"
)

// A Collector writes families of the program's own with w. Its families'
// names must differ from the Registry's (which all start with "eddy_") and
// from other collectors': the format allows one block per family.
type Collector func(w *Writer)

// Registry is the set of things whose figures a scrape writes. Its Add
// methods may be called from any goroutine at any time, and a scrape
// (WriteTo, ServeHTTP1) from any goroutine, a loop's included: it reads
// the figures as their owners publish them, atomics that the loops update
// as they go, and never stops, waits for or locks a loop. The zero value
// is an empty Registry, ready to use; it must not be copied after first
// use.
type Registry struct {
	mu      sync.Mutex              // serializes the Add methods
	sources atomic.Pointer[sources] // copy on write: a scrape takes no lock
	scrapes sync.Pool               // *scrape, for scrapes that allocate nothing
}

// sources is what a Registry exposes; immutable once stored.
type sources struct {
	loops      []*eddy.Loop
	loopLabels []string // "0", "1", ...: the loop label of each
	servers    []named[*evhttp.Server]
	listeners  []named[*evnet.Listener]
	upgraders  []named[*evws.Upgrader]
	collectors []Collector
}

type named[T any] struct {
	name string
	v    T
}

// scrape holds the figures of one scrape, read once each, and its output.
type scrape struct {
	w         Writer
	loops     []eddy.Stats
	servers   []evhttp.ServerStats
	conns     []evnet.ListenerStats // the servers', then the listeners'
	upgraders []evws.Stats
}

// update makes a copy of the sources, lets f change it and stores it.
func (r *Registry) update(f func(s *sources)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var s sources
	if old := r.sources.Load(); old != nil {
		s = *old
	}
	// Full slices: appending makes new arrays, never writing into the
	// ones a scrape may be reading.
	s.loops = s.loops[:len(s.loops):len(s.loops)]
	s.loopLabels = s.loopLabels[:len(s.loopLabels):len(s.loopLabels)]
	s.servers = s.servers[:len(s.servers):len(s.servers)]
	s.listeners = s.listeners[:len(s.listeners):len(s.listeners)]
	s.upgraders = s.upgraders[:len(s.upgraders):len(s.upgraders)]
	s.collectors = s.collectors[:len(s.collectors):len(s.collectors)]
	f(&s)
	r.sources.Store(&s)
}

// AddLoops exposes the figures of loops (eddy.Loop.Stats), with a label
// loop="N": 0 for the first loop added to the Registry, 1 for the next...
func (r *Registry) AddLoops(loops ...*eddy.Loop) {
	r.update(func(s *sources) {
		for _, l := range loops {
			s.loopLabels = append(s.loopLabels, strconv.Itoa(len(s.loops)))
			s.loops = append(s.loops, l)
		}
	})
}

// AddGroup exposes the figures of the loops of g, as AddLoops does.
func (r *Registry) AddGroup(g *evnet.Group) {
	loops := make([]*eddy.Loop, g.Len())
	for i := range loops {
		loops[i] = g.Loop(i)
	}
	r.AddLoops(loops...)
}

// AddServer exposes the figures of s (evhttp.Server.Stats), its requests
// and its connections, with a label server="name".
func (r *Registry) AddServer(name string, s *evhttp.Server) {
	r.update(func(src *sources) { src.servers = append(src.servers, named[*evhttp.Server]{name, s}) })
}

// AddListener exposes the figures of the connections of ln
// (evnet.Listener.Stats), with a label server="name": for a server of the
// program's own on evnet (a TCP proxy, say). For a Group, give it the
// listener that Group.Listen returned, whose figures are those of all the
// loops.
func (r *Registry) AddListener(name string, ln *evnet.Listener) {
	r.update(func(s *sources) { s.listeners = append(s.listeners, named[*evnet.Listener]{name, ln}) })
}

// AddUpgrader exposes the figures of u (evws.Upgrader.Stats), with a label
// server="name".
func (r *Registry) AddUpgrader(name string, u *evws.Upgrader) {
	r.update(func(s *sources) { s.upgraders = append(s.upgraders, named[*evws.Upgrader]{name, u}) })
}

// AddCollector adds c, which writes families of the program's own, after
// the Registry's.
func (r *Registry) AddCollector(c Collector) {
	r.update(func(s *sources) { s.collectors = append(s.collectors, c) })
}

// WriteTo appends every family to w: the loops', the servers' and
// listeners', the upgraders', then the collectors'.
func (r *Registry) WriteTo(w *Writer) {
	sc := r.get()
	defer r.scrapes.Put(sc)
	sc.w.b, w.b = w.b, nil
	r.write(sc)
	w.b, sc.w.b = sc.w.b, nil
}

func (r *Registry) get() *scrape {
	if sc, ok := r.scrapes.Get().(*scrape); ok {
		return sc
	}
	return new(scrape)
}

// write takes the snapshot and writes it to sc.w.
func (r *Registry) write(sc *scrape) {
	src := r.sources.Load()
	if src == nil {
		src = &sources{}
	}
	sc.loops = sc.loops[:0]
	for _, l := range src.loops {
		sc.loops = append(sc.loops, l.Stats())
	}
	sc.servers, sc.conns = sc.servers[:0], sc.conns[:0]
	for _, s := range src.servers {
		sc.servers = append(sc.servers, s.v.Stats())
		sc.conns = append(sc.conns, sc.servers[len(sc.servers)-1].Conns)
	}
	for _, ln := range src.listeners {
		sc.conns = append(sc.conns, ln.v.Stats())
	}
	sc.upgraders = sc.upgraders[:0]
	for _, u := range src.upgraders {
		sc.upgraders = append(sc.upgraders, u.v.Stats())
	}
	w := &sc.w
	writeLoops(w, src, sc.loops)
	writeServers(w, src, sc.servers)
	writeConns(w, src, sc.conns)
	writeUpgraders(w, src, sc.upgraders)
	for _, c := range src.collectors {
		c(w)
	}
}

// ServeHTTP1 answers a scrape: GET (or HEAD) /metrics gets every family
// in the text exposition format; another path 404, another method 405.
// It runs on the loop that serves the request, as any native handler,
// and takes no more of it than writing the figures takes: there is no
// goroutine per scrape.
func (r *Registry) ServeHTTP1(w *evhttp.ResponseWriter, req *evhttp.Request) {
	if string(req.Path()) != "/metrics" {
		w.WriteHeader(404)
		return
	}
	if m := string(req.Method()); m != "GET" && m != "HEAD" {
		w.Header().Set("Allow", "GET, HEAD")
		w.WriteHeader(405)
		return
	}
	sc := r.get()
	defer r.scrapes.Put(sc)
	sc.w.Reset()
	r.write(sc)
	w.Header().Set("Content-Type", ContentType)
	w.Write(sc.w.b)
}

// The families of a loop: counters that are uint64 or durations.
var loopFamilies = []struct {
	name, help string
	n          func(s *eddy.Stats) uint64
	d          func(s *eddy.Stats) time.Duration
}{
	{name: "eddy_loop_iterations_total", help: "Loop iterations completed.", n: func(s *eddy.Stats) uint64 { return s.Iterations }},
	{name: "eddy_loop_callbacks_total", help: "Callbacks invoked.", n: func(s *eddy.Stats) uint64 { return s.Callbacks }},
	{name: "eddy_loop_io_events_total", help: "Readiness events taken from the backend.", n: func(s *eddy.Stats) uint64 { return s.IOEvents }},
	{name: "eddy_loop_wakeups_total", help: "Wake-ups issued by other goroutines (Post, Wake, Async.Send).", n: func(s *eddy.Stats) uint64 { return s.Wakeups }},
	{name: "eddy_loop_wait_seconds_total", help: "Time spent waiting in the backend.", d: func(s *eddy.Stats) time.Duration { return s.WaitTime }},
	{name: "eddy_loop_run_seconds_total", help: "Time spent running callbacks and the loop's own work.", d: func(s *eddy.Stats) time.Duration { return s.RunTime }},
	{name: "eddy_loop_long_iterations_total", help: "Iterations whose callbacks ran longer than the loop's SlowCallback threshold.", n: func(s *eddy.Stats) uint64 { return s.LongIterations }},
	{name: "eddy_loop_slow_callbacks_total", help: "Callbacks that ran longer than the SlowCallback threshold (counted only when callbacks are timed).", n: func(s *eddy.Stats) uint64 { return s.SlowCallbacks }},
}

func writeLoops(w *Writer, src *sources, st []eddy.Stats) {
	if len(st) == 0 {
		return
	}
	for _, f := range loopFamilies {
		w.Family(f.name, Counter, f.help)
		for i := range st {
			if f.n != nil {
				w.Uint(f.name, f.n(&st[i]), "loop", src.loopLabels[i])
			} else {
				w.Value(f.name, f.d(&st[i]).Seconds(), "loop", src.loopLabels[i])
			}
		}
	}
	const lag = "eddy_loop_lag_seconds"
	w.Family(lag, Histogram, "How late the loop saw its timers expire, one sample per iteration with timers due (as Node's monitorEventLoopDelay).")
	for i := range st {
		w.Histogram(lag, &st[i].Lag, "loop", src.loopLabels[i])
	}
}

// classLabels are the values of the code label of requests by class.
var classLabels = [6]string{"none", "1xx", "2xx", "3xx", "4xx", "5xx"}

func writeServers(w *Writer, src *sources, st []evhttp.ServerStats) {
	if len(st) == 0 {
		return
	}
	const reqs, dur = "eddy_http_requests_total", "eddy_http_request_duration_seconds"
	w.Family(reqs, Counter, "HTTP requests over, by status class (none: ended without a response).")
	for i := range st {
		for c, n := range st[i].Requests {
			w.Uint(reqs, n, "server", src.servers[i].name, "code", classLabels[c])
		}
	}
	w.Family(dur, Histogram, "HTTP request durations, from the loop iteration that read the head to the one that ended the exchange, on the loop's cached time.")
	for i := range st {
		w.Histogram(dur, &st[i].Duration, "server", src.servers[i].name)
	}
}

// connName returns the server label of the i-th figures of writeConns.
func connName(src *sources, i int) string {
	if i < len(src.servers) {
		return src.servers[i].name
	}
	return src.listeners[i-len(src.servers)].name
}

// family is a family with one sample per source, labelled server="NAME",
// whose value is an integer taken from the source's figures T.
type family[T any] struct {
	name, help string
	typ        Type
	n          func(s *T) uint64
}

// writeFamilies writes the families fams for the figures st, the i-th
// labelled server=name(i).
func writeFamilies[T any](w *Writer, fams []family[T], st []T, name func(i int) string) {
	for _, f := range fams {
		w.Family(f.name, f.typ, f.help)
		for i := range st {
			w.Uint(f.name, f.n(&st[i]), "server", name(i))
		}
	}
}

// The families of connections but the closes.
var connFamilies = []family[evnet.ListenerStats]{
	{"eddy_connections_open", "Connections open.", Gauge, func(s *evnet.ListenerStats) uint64 { return s.Open() }},
	{"eddy_connections_accepted_total", "Connections accepted.", Counter, func(s *evnet.ListenerStats) uint64 { return s.Accepted }},
	{"eddy_received_bytes_total", "Bytes read from the connections' sockets (TLS records included).", Counter, func(s *evnet.ListenerStats) uint64 { return s.BytesIn }},
	{"eddy_sent_bytes_total", "Bytes written to the connections' sockets (TLS records included).", Counter, func(s *evnet.ListenerStats) uint64 { return s.BytesOut }},
	{"eddy_tls_handshakes_total", "TLS handshakes that succeeded.", Counter, func(s *evnet.ListenerStats) uint64 { return s.TLSHandshakes }},
	{"eddy_tls_handshake_failures_total", "Connections whose TLS handshake failed.", Counter, func(s *evnet.ListenerStats) uint64 { return s.TLSFailed }},
}

func writeConns(w *Writer, src *sources, st []evnet.ListenerStats) {
	if len(st) == 0 {
		return
	}
	writeFamilies(w, connFamilies, st, func(i int) string { return connName(src, i) })
	const closed = "eddy_connections_closed_total"
	w.Family(closed, Counter, "Connections closed, by class of reason.")
	for i := range st {
		for k, n := range st[i].Closed {
			w.Uint(closed, n, "server", connName(src, i), "reason", evnet.CloseClass(k).String())
		}
	}
}

// The families of WebSocket upgraders.
var wsFamilies = []family[evws.Stats]{
	{"eddy_ws_upgrades_total", "WebSocket handshakes accepted.", Counter, func(s *evws.Stats) uint64 { return s.Upgraded }},
	{"eddy_ws_refused_total", "WebSocket handshakes refused with an error status.", Counter, func(s *evws.Stats) uint64 { return s.Refused }},
	{"eddy_ws_open", "WebSocket connections open.", Gauge, func(s *evws.Stats) uint64 { return s.Upgraded - min(s.Closed, s.Upgraded) }},
	{"eddy_ws_dead_peers_total", "WebSocket connections closed for a peer that did not answer a keep-alive ping.", Counter, func(s *evws.Stats) uint64 { return s.DeadPeers }},
}

func writeUpgraders(w *Writer, src *sources, st []evws.Stats) {
	if len(st) == 0 {
		return
	}
	writeFamilies(w, wsFamilies, st, func(i int) string { return src.upgraders[i].name })
	const failed = "eddy_ws_failed_total"
	w.Family(failed, Counter, "WebSocket connections failed for their peer's input, by close code (1002 protocol error, 1007 invalid data, 1009 too big).")
	for i := range st {
		name := src.upgraders[i].name
		w.Uint(failed, st[i].ProtocolErrors, "server", name, "code", "1002")
		w.Uint(failed, st[i].InvalidData, "server", name, "code", "1007")
		w.Uint(failed, st[i].TooBig, "server", name, "code", "1009")
	}
}
