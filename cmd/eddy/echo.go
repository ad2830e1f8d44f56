package main

// eddy echo: a TCP (and Unix, and UDP) echo server on evnet, with
// backpressure: a connection whose echo the peer does not read fast enough
// stops being read until its output queue has drained. It runs an
// evnet.Group of loops, one per processor unless -loops says otherwise.
// With -tls-cert and -tls-key the stream connections are TLS (1.2 and
// 1.3) and the echo is of the plaintext; UDP stays plain. The certificate
// files are watched: replaced on disk, they are served to the next
// handshakes, and a replacement that does not load is reported and the
// certificate in use kept.

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/eddyloop/eddy/evnet"
)

// drainTimeout bounds how long eddy echo waits, when told to stop, for
// the connections to send what they have queued.
const drainTimeout = time.Second

// runEcho is "eddy echo": it serves until SIGINT or SIGTERM, then exits 0.
func runEcho(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("echo", "[-addr IP:PORT] [-unix PATH] [-udp] [-loops N] [-backend NAME] [-hold=BOOL] [-tls-cert FILE -tls-key FILE] [-quiet]", stderr)
	addr := fs.String("addr", "127.0.0.1:7000", "listen for TCP on `IP:PORT` (IPv4 or [IPv6])")
	unixPath := fs.String("unix", "", "also listen on the Unix socket `PATH` (@name: Linux abstract)")
	udp := fs.Bool("udp", false, "also echo UDP datagrams on the -addr address")
	loops := loopsFlag(fs)
	backend := backendFlag(fs)
	hold := holdFlag(fs)
	tlsf := addTLSFlags(fs, false)
	quiet := fs.Bool("quiet", false, "log nothing but errors")
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

	logf := func(format string, args ...any) {
		if !*quiet {
			fmt.Fprintf(stderr, "eddy echo: "+format+"\n", args...)
		}
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
	var stopUDP func()
	fail := func(err error) int {
		if stopUDP != nil {
			g.Post(0, stopUDP)
		}
		g.Shutdown(0)
		fmt.Fprintf(stderr, "eddy echo: %v\n", err)
		return 1
	}
	// The certificate's files are watched on the first loop: one replaced
	// on disk is served to the next handshakes, on every loop.
	tlsConfig, err := tlsf.config(g, "echo", stderr)
	if err != nil {
		return fail(err)
	}
	srv := &echoServer{}
	lc := evnet.ListenConfig{Conn: evnet.ConnConfig{Logf: logf}, TLS: tlsConfig}
	ln, err := g.Listen("tcp", ap.String(), lc, srv.handler())
	if err != nil {
		return fail(err)
	}
	over := ""
	if tlsConfig != nil {
		over = ", TLS"
	}
	logf("listening on tcp %s (%s, %s backend%s)", ln.Addr(), count(g.Len(), "loop"), g.Loop(0).Backend(), over)
	if *unixPath != "" {
		if _, err := g.Listen("unix", *unixPath, lc, srv.handler()); err != nil {
			return fail(err)
		}
		logf("listening on unix %s", *unixPath)
	}
	if *udp {
		done := make(chan error, 1)
		g.Post(0, func() {
			var err error
			stopUDP, err = echoUDP(g.Loop(0), ln.Addr(), logf)
			done <- err
		})
		if err := <-done; err != nil {
			return fail(err)
		}
		if tlsConfig != nil {
			logf("echoing udp on %s (plain: no TLS for datagrams)", ln.Addr())
		} else {
			logf("echoing udp on %s", ln.Addr())
		}
	}

	caught := <-sigs
	if stopUDP != nil {
		g.Post(0, stopUDP)
	}
	if err := g.Shutdown(drainTimeout); err != nil {
		fmt.Fprintf(stderr, "eddy echo: %v\n", err)
		return 1
	}
	logf("%v: stopped after %s", caught, count(srv.accepted.Load(), "connection"))
	return 0
}

// echoServer echoes every connection's bytes back. Its callbacks run on
// the loops of the group, several at once.
type echoServer struct {
	accepted atomic.Uint64
}

func (s *echoServer) handler() evnet.Handler {
	return evnet.Handler{OnOpen: s.onOpen, OnData: s.onData, OnDrain: s.onDrain}
}

func (s *echoServer) onOpen(*evnet.Conn) { s.accepted.Add(1) }

// onData echoes p; when the peer reads slower than it writes, the output
// queue goes over its high mark and reading pauses until it drains.
func (s *echoServer) onData(c *evnet.Conn, p []byte) int {
	c.Write(p)
	if c.Full() {
		c.PauseRead()
	}
	return len(p)
}

func (s *echoServer) onDrain(c *evnet.Conn) { c.ResumeRead() }
