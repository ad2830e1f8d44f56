package main

// eddy ws: a WebSocket echo server on evws (text echoed as text, binary as
// binary, on every path), or with -broadcast a hub that sends every
// message to every client, each message framed and compressed once; and,
// with -connect URL, a wscat-like client: lines of standard input go out
// as text messages, the messages received are written to standard
// output, and the end of standard input closes the connection cleanly.
// A request that is not a WebSocket handshake (a plain GET) is answered
// 426 Upgrade Required.

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evhttp"
	"github.com/eddyloop/eddy/evhttp/evclient"
	"github.com/eddyloop/eddy/evmetrics"
	"github.com/eddyloop/eddy/evnet"
	"github.com/eddyloop/eddy/evws"
)

// runWS is "eddy ws".
func runWS(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("ws", "[-addr IP:PORT] [-loops N] [-backend NAME] [-hold=BOOL] [-broadcast] [-deflate=BOOL] [-max-message N] [-tls-cert FILE -tls-key FILE] [-metrics IP:PORT]\n       eddy ws -connect URL [-deflate=BOOL] [-max-message N] [-cacert FILE | -insecure]", stderr)
	addr := fs.String("addr", "127.0.0.1:9001", "listen on `IP:PORT` (IPv4 or [IPv6])")
	loops := loopsFlag(fs)
	backend := backendFlag(fs)
	hold := holdFlag(fs)
	broadcast := fs.Bool("broadcast", false, "send every message from any client to every client, instead of echoing it")
	deflate := fs.Bool("deflate", false, "accept (or, with -connect, offer) permessage-deflate (off by default, as in the benchmark harness's peers)")
	maxMessage := fs.Int("max-message", evws.DefaultMaxMessageBytes, "close connections whose messages exceed `N` bytes (1009)")
	tlsf := addTLSFlags(fs, false)
	metrics := metricsFlag(fs)
	connect := fs.String("connect", "", "be a client: connect to the ws:// or wss:// `URL`")
	caFile := fs.String("cacert", "", "with -connect: verify wss servers against the CA certificates in `FILE` (PEM)")
	insecure := fs.Bool("insecure", false, "with -connect: do not verify wss servers' certificates")
	if status, ok := parseFlags(fs, args); !ok {
		return status
	}
	if fs.NArg() > 0 {
		return usageError(fs, "unexpected argument %q", fs.Arg(0))
	}
	if *maxMessage <= 0 {
		return usageError(fs, "-max-message: must be positive")
	}
	cfg := &evws.Config{Deflate: *deflate, MaxMessageBytes: *maxMessage}
	if *connect != "" {
		tlsConf, status, ok := clientTLS(fs, *caFile, *insecure)
		if !ok {
			return status
		}
		return wsClient(*connect, cfg, tlsConf, os.Stdin, stdout, stderr)
	}
	ap, status, ok := checkServer(fs, *addr, *loops, tlsf)
	if !ok {
		return status
	}
	maddr, status, ok := parseMetrics(fs, *metrics)
	if !ok {
		return status
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)

	g, status := newGroup(fs, *loops, *backend, *hold, stderr)
	if g == nil {
		return status
	}
	tlsConfig, err := tlsf.config(g, "ws", stderr)
	if err != nil {
		g.Shutdown(0)
		fmt.Fprintf(stderr, "eddy ws: %v\n", err)
		return 1
	}
	hub := newWSHub(g, *deflate)
	h := evws.Handler{
		OnOpen:    hub.open,
		OnMessage: hub.echo,
		OnDrain:   func(c *evws.Conn) { c.ResumeRead() },
		OnClose:   hub.close,
	}
	if *broadcast {
		h.OnMessage = hub.broadcast
		cfg.QueuePolicy = evws.QueueDrop // a slow subscriber misses messages, and holds no more than MaxQueuedBytes
	}
	u := evws.NewUpgrader(cfg, h)
	srv := &evhttp.Server{
		ListenConfig: evnet.ListenConfig{TLS: tlsConfig},
		Handler:      u,
		ErrorLog: func(format string, args ...any) {
			fmt.Fprintf(stderr, "eddy ws: "+format+"\n", args...)
		},
	}
	ln, err := srv.ServeGroup(g, "tcp", ap.String())
	var m *metricsServer
	if err == nil {
		m, err = startMetrics(g, maddr)
	}
	if err != nil {
		srv.Close()
		g.Shutdown(0)
		fmt.Fprintf(stderr, "eddy ws: %v\n", err)
		return 1
	}
	if m != nil {
		m.reg.AddServer("ws", srv)
		m.reg.AddUpgrader("ws", u)
		m.reg.AddCollector(hub.collect)
	}
	scheme, what := "ws", "echo"
	if tlsConfig != nil {
		scheme = "wss"
	}
	if *broadcast {
		what = "broadcast"
	}
	m.announce(stderr, "ws")
	fmt.Fprintf(stderr, "eddy ws: listening on %s://%s/ (%s; permessage-deflate %v; %s, %s backend)\n",
		scheme, ln.Addr(), what, *deflate, count(g.Len(), "loop"), g.Loop(0).Backend())

	caught := <-sigs
	srv.Close()
	m.close()
	for i := range g.Len() {
		g.Post(i, hub.goingAway(i))
	}
	if err := g.Shutdown(drainTimeout); err != nil {
		fmt.Fprintf(stderr, "eddy ws: %v\n", err)
		return 1
	}
	fmt.Fprintf(stderr, "eddy ws: %v: stopped after %s\n", caught, count(hub.conns.Load(), "connection"))
	return 0
}

// echo sends a message back as it came, pausing reading while the
// output queue is full (OnDrain resumes it).
func (h *wsHub) echo(c *evws.Conn, op evws.Opcode, p []byte) {
	h.stats[h.loopIndex[c.Loop()]].messages.Add(1)
	c.WriteMessage(op, p)
	if c.Full() {
		c.PauseRead()
	}
}

// wsLoopStats are the counters of one loop, written by that loop only
// (atomics, for the metrics reader), each on a cache line of its own.
type wsLoopStats struct {
	messages atomic.Int64
	_        [56]byte
}

// collect is -metrics' Collector: the messages received, which the
// Upgrader does not count (the Registry has its other figures).
func (h *wsHub) collect(w *evmetrics.Writer) {
	var msgs int64
	for i := range h.stats {
		msgs += h.stats[i].messages.Load()
	}
	w.Family("eddy_ws_messages_total", evmetrics.Counter, "WebSocket messages received.")
	w.Uint("eddy_ws_messages_total", uint64(msgs), "server", "ws")
}

// wsHub keeps the connections of each loop, for -broadcast and for the
// Close frames sent when the server stops, and the messages for -metrics.
type wsHub struct {
	g         *evnet.Group
	deflate   bool
	loopIndex map[*eddy.Loop]int // read-only once made
	subs      []map[*evws.Conn]struct{}
	hubs      []*evws.Hub // -broadcast's, one per loop
	stats     []wsLoopStats
	conns     atomic.Uint64
}

func newWSHub(g *evnet.Group, deflate bool) *wsHub {
	h := &wsHub{g: g, deflate: deflate, loopIndex: map[*eddy.Loop]int{}}
	for i := range g.Len() {
		h.loopIndex[g.Loop(i)] = i
		h.subs = append(h.subs, map[*evws.Conn]struct{}{})
		h.hubs = append(h.hubs, evws.NewHub(g.Loop(i), nil))
	}
	h.stats = make([]wsLoopStats, g.Len())
	return h
}

func (h *wsHub) open(c *evws.Conn) {
	h.conns.Add(1)
	i := h.loopIndex[c.Loop()]
	h.subs[i][c] = struct{}{}
	h.hubs[i].Add(c)
}

func (h *wsHub) close(c *evws.Conn, err error) {
	i := h.loopIndex[c.Loop()]
	delete(h.subs[i], c)
	h.hubs[i].Remove(c)
}

// broadcast frames the message once and sends it to every connection of
// every loop, each loop's Hub to its own (a slice of connections per
// iteration, the messages that wait for a connection's turn in one write).
func (h *wsHub) broadcast(c *evws.Conn, op evws.Opcode, p []byte) {
	h.stats[h.loopIndex[c.Loop()]].messages.Add(1)
	m, err := evws.NewPrepared(op, p, h.deflate)
	if err != nil {
		return
	}
	own := h.loopIndex[c.Loop()]
	for i := range h.subs {
		send := func() { h.hubs[i].Broadcast(m) }
		if i == own {
			send()
		} else {
			h.g.Post(i, send)
		}
	}
}

// goingAway returns a function that sends Close 1001 on loop i's
// connections.
func (h *wsHub) goingAway(i int) func() {
	return func() {
		for c := range h.subs[i] {
			c.Close(evws.CloseGoingAway, "server stopping")
		}
	}
}

// wsClient is "eddy ws -connect URL".
func wsClient(url string, cfg *evws.Config, tlsConf *tls.Config, stdin io.Reader, stdout, stderr io.Writer) int {
	l, err := eddy.NewLoop(nil)
	if err != nil {
		fmt.Fprintf(stderr, "eddy ws: %v\n", err)
		return 1
	}
	defer l.Close()
	cl := evclient.New(l, &evclient.Config{TLS: tlsConf})
	out := bufio.NewWriter(stdout)
	var closeErr error
	var done atomic.Bool
	post := func(f func()) {
		if !done.Load() {
			l.Post(f)
		}
	}
	_, err = evws.Dial(cl, url, cfg, evws.Handler{
		OnOpen: func(c *evws.Conn) {
			go func() { // standard input blocks: it is read on a goroutine of its own
				sc := bufio.NewScanner(stdin)
				sc.Buffer(make([]byte, 64<<10), cfg.MaxMessageBytes)
				for sc.Scan() {
					line := []byte(sc.Text())
					post(func() { c.WriteMessage(evws.Text, line) })
				}
				post(func() { c.Close(evws.CloseNormal, "") })
			}()
		},
		OnMessage: func(c *evws.Conn, op evws.Opcode, p []byte) {
			out.Write(p)
			out.WriteByte('\n')
			out.Flush()
		},
		OnClose: func(c *evws.Conn, err error) {
			closeErr = err
			done.Store(true)
			cl.Close()
			l.Break(eddy.BreakAll)
		},
	})
	if err != nil {
		fmt.Fprintf(stderr, "eddy ws: %v\n", err)
		return 2
	}
	l.Run()
	out.Flush()
	var ce *evws.CloseError
	if errors.As(closeErr, &ce) && (ce.Code == evws.CloseNormal || ce.Code == evws.CloseNoStatus) {
		return 0
	}
	fmt.Fprintf(stderr, "eddy ws: %v\n", closeErr)
	return 1
}
