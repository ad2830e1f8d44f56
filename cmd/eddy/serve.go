package main

// eddy serve: the HTTP/1.1 server of package evhttp, on a group of loops,
// one per processor unless -loops says otherwise. Without -dir it answers every request with "Hello, World!" (the hello
// contract the benchmark harness checks); with -dir it serves the files
// of a directory (serve_files.go). With -tls-cert and -tls-key it serves
// HTTPS (TLS 1.2 and 1.3, ALPN http/1.1 and http/1.0; files are read and
// encrypted on the loop, as sendfile cannot carry TLS), the certificate
// loaded again when its files change; -tls-client-ca requires client
// certificates signed by the CAs of a PEM file. Each loop writes an access log line per
// request to stdout unless -quiet, in batches, so that a slow terminal
// costs a write per batch, not one per request.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evhttp"
	"github.com/eddyloop/eddy/evnet"
)

const (
	// serveDrainTimeout bounds how long eddy serve waits, when told to
	// stop, for the requests in progress to finish.
	serveDrainTimeout = 5 * time.Second
	// logFlushEvery is how often a loop writes its batch of access log
	// lines; logFlushSize is the batch size that makes it write at once.
	logFlushEvery = 100 * time.Millisecond
	logFlushSize  = 32 << 10
)

// runServe is "eddy serve": it serves until SIGINT or SIGTERM, then drains
// and exits 0.
func runServe(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("serve", "[-addr IP:PORT] [-loops N] [-backend NAME] [-hold=BOOL] [-quiet] [-dir DIR | -adapter] [-tls-cert FILE -tls-key FILE [-tls-client-ca FILE]] [-metrics IP:PORT]", stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "listen on `IP:PORT` (IPv4 or [IPv6])")
	loops := loopsFlag(fs)
	backend := backendFlag(fs)
	hold := holdFlag(fs)
	quiet := fs.Bool("quiet", false, "no access log on stdout")
	dir := fs.String("dir", "", "serve the files under `DIR` instead of Hello, World!")
	adapter := fs.Bool("adapter", false, "answer Hello, World! through a standard http.Handler and evhttp.Adapt (to compare with net/http)")
	tlsf := addTLSFlags(fs, true)
	metrics := metricsFlag(fs)
	if status, ok := parseFlags(fs, args); !ok {
		return status
	}
	if fs.NArg() > 0 {
		return usageError(fs, "unexpected argument %q", fs.Arg(0))
	}
	ap, status, ok := checkServer(fs, *addr, *loops, tlsf)
	if !ok {
		return status
	}
	maddr, status, ok := parseMetrics(fs, *metrics)
	if !ok {
		return status
	}
	handler := evhttp.Handler(helloHandler)
	if *adapter {
		if *dir != "" {
			return usageError(fs, "-adapter and -dir: choose one")
		}
		handler = evhttp.Adapt(stdHello, nil)
	}
	if *dir != "" {
		fsrv, err := newFileServer(*dir)
		if err != nil {
			return usageError(fs, "-dir: %v", err)
		}
		handler = fsrv
	}

	// Signals first: from the moment the server listens, SIGINT and SIGTERM
	// stop it cleanly instead of killing it.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)

	g, status := newGroup(fs, *loops, *backend, *hold, stderr)
	if g == nil {
		return status
	}
	tlsConfig, err := tlsf.config(g, "serve", stderr)
	if err != nil {
		g.Shutdown(0)
		fmt.Fprintf(stderr, "eddy serve: %v\n", err)
		return 1
	}
	var conns atomic.Uint64
	srv := &evhttp.Server{
		ListenConfig: evnet.ListenConfig{TLS: tlsConfig},
		Handler:      handler,
		ConnState: func(c *evnet.Conn, s evhttp.ConnState) {
			if s == evhttp.StateNew {
				conns.Add(1)
			}
		},
		ErrorLog: func(format string, args ...any) {
			fmt.Fprintf(stderr, "eddy serve: "+format+"\n", args...)
		},
	}
	var logs *accessLogs
	if !*quiet { // else no AccessLog: no clock reading per request
		logs = newAccessLogs(g, stdout)
		srv.AccessLog = logs.log
	}
	ln, err := srv.ServeGroup(g, "tcp", ap.String())
	var m *metricsServer
	if err == nil {
		m, err = startMetrics(g, maddr)
	}
	if err != nil {
		srv.Close()
		g.Shutdown(0)
		fmt.Fprintf(stderr, "eddy serve: %v\n", err)
		return 1
	}
	if m != nil {
		m.reg.AddServer("serve", srv)
	}
	what := "Hello, World!"
	if *adapter {
		what = "Hello, World! through evhttp.Adapt"
	}
	if *dir != "" {
		what = "files of " + *dir
	}
	scheme := "http"
	if tlsConfig != nil {
		scheme = "https"
		if *tlsf.clientCA != "" {
			what += ", client certificates required"
		}
	}
	m.announce(stderr, "serve")
	fmt.Fprintf(stderr, "eddy serve: listening on %s://%s/ (%s; %s, %s backend)\n",
		scheme, ln.Addr(), what, count(g.Len(), "loop"), g.Loop(0).Backend())

	caught := <-sigs
	m.close()
	ctx, cancel := context.WithTimeout(context.Background(), serveDrainTimeout)
	defer cancel()
	drainErr := srv.Shutdown(ctx)
	if logs != nil {
		logs.flushAll()
	}
	if err := g.Shutdown(0); err != nil {
		fmt.Fprintf(stderr, "eddy serve: %v\n", err)
		return 1
	}
	if drainErr != nil {
		fmt.Fprintf(stderr, "eddy serve: requests still in progress after %v were cut\n", serveDrainTimeout)
	}
	fmt.Fprintf(stderr, "eddy serve: %v: stopped after %s and %s\n",
		caught, count(conns.Load(), "connection"), count(srv.Served(), "request"))
	return 0
}

// helloHandler answers every request with Hello, World!, as eddy hello
// does, but through evhttp: keep-alive, pipelining, HEAD, HTTP/1.0.
var helloHandler = evhttp.HandlerFunc(func(w *evhttp.ResponseWriter, r *evhttp.Request) {
	w.Header().Set("Content-Type", "text/plain")
	w.WriteString("Hello, World!")
})

// stdHello is helloHandler as a standard http.Handler, for -adapter.
var stdHello = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	io.WriteString(w, "Hello, World!")
})

// accessLogs holds one access log per loop of a group. Each is used by
// its loop only; the slice is read-only once made.
type accessLogs struct {
	logs []*accessLog
}

// accessLog is one loop's: lines are appended to buf and written to out
// in one write per batch (when buf is large, or logFlushEvery after the
// first line of a batch).
type accessLog struct {
	loop  *eddy.Loop
	out   io.Writer
	mu    *sync.Mutex // shared: one write at a time to out
	buf   []byte
	flush eddy.Timer
}

func newAccessLogs(g *evnet.Group, out io.Writer) *accessLogs {
	a := &accessLogs{}
	mu := new(sync.Mutex)
	for i := range g.Len() {
		l := &accessLog{loop: g.Loop(i), out: out, mu: mu}
		l.flush.Init(func(*eddy.Timer) { l.write() }, logFlushEvery, 0)
		a.logs = append(a.logs, l)
	}
	return a
}

// log is the Server's AccessLog: one line per request,
//
//	127.0.0.1:50312 "GET / HTTP/1.1" 200 13 21µs
func (a *accessLogs) log(r *evhttp.Request, status int, n int64, elapsed time.Duration) {
	l := a.of(r)
	if l == nil {
		return
	}
	l.end(appendRequestLine(l.buf, r, status, n, elapsed))
}

// of returns the access log of r's loop, or nil (nil too for a nil a: no
// access log).
func (a *accessLogs) of(r *evhttp.Request) *accessLog {
	if a == nil {
		return nil
	}
	for _, l := range a.logs {
		if l.loop == r.Loop() {
			return l
		}
	}
	return nil
}

// appendRequestLine appends the line of log, without its newline.
func appendRequestLine(b []byte, r *evhttp.Request, status int, n int64, elapsed time.Duration) []byte {
	b = r.RemoteAddr().AppendTo(b)
	b = append(b, " \""...)
	b = appendPrintable(b, r.Method())
	b = append(b, ' ')
	b = appendPrintable(b, r.Target())
	b = append(b, ' ')
	b = append(b, r.Proto()...)
	b = append(b, "\" "...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, n, 10)
	b = append(b, ' ')
	return append(b, elapsed.Round(time.Microsecond).String()...)
}

// end ends the line appended to l.buf, given as b, and writes the batch
// when it is large, or arms the flush timer.
func (l *accessLog) end(b []byte) {
	l.buf = append(b, '\n')
	switch {
	case len(l.buf) >= logFlushSize:
		l.write()
	case !l.flush.IsActive():
		l.flush.Start(l.loop)
	}
}

// appendPrintable appends p with bytes outside printable ASCII escaped,
// so that a request cannot forge log lines.
func appendPrintable(b, p []byte) []byte {
	const hex = "0123456789abcdef"
	for _, c := range p {
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			b = append(b, '\\', 'x', hex[c>>4], hex[c&15])
			continue
		}
		b = append(b, c)
	}
	return b
}

// write writes the batch. Loop goroutine only.
func (l *accessLog) write() {
	l.flush.Stop()
	if len(l.buf) == 0 {
		return
	}
	l.mu.Lock()
	l.out.Write(l.buf)
	l.mu.Unlock()
	l.buf = l.buf[:0]
}

// flushAll writes every loop's batch, on its loop, and waits.
func (a *accessLogs) flushAll() {
	for _, l := range a.logs {
		done := make(chan struct{})
		l.loop.Post(func() { l.write(); close(done) })
		<-done
	}
}
