// Command load is the benchmark harness's load generator. It only ever
// connects to loopback addresses and every run is bounded in time.
//
// Echo mode (default) opens -c connections to an echo server; each
// connection has one message of -size bytes in flight at a time: it sends
// it, waits for the whole echo, checks it byte for byte and only then sends
// again.
//
//   - closed loop (-rate 0): the next message goes out as soon as the echo
//     is complete, which measures the highest rate;
//   - fixed rate (-rate N): N messages per second in total are sent on free
//     connections; the generator wakes once per millisecond and sends the
//     slots that are due. A slot that finds every connection busy is dropped
//     and counted. Used to compare server CPU per message at equal load.
//
// Everything runs on one goroutine with raw epoll and nonblocking sockets, so
// a round trip costs the generator one write, one read and a share of an
// epoll_wait. With -pid, the server's CPU time over the measuring window is
// reported too.
//
// With -proto http the message is an HTTP/1.1 GET instead (one request in
// flight per connection, no pipelining) and each response must be the
// benchmark's 200 / Content-Length 13 / "Hello, World!" keep-alive
// response with nothing after it (internal/httpcheck); -size is ignored.
//
// Idle mode (-mode idle) measures server memory per connection: it reads the
// VmRSS of -pid, opens -c connections that send nothing (from the source
// addresses in -sources so that ephemeral ports do not run out), waits until
// the server holds them all and its RSS is steady, reads VmRSS again, then
// sends one -size byte message (-proto http: one GET) on every connection,
// reads and checks every echo (response) and reads VmRSS a third time.
//
//	load -addr 127.0.0.1:7000 -c 100 -size 64 -d 10s -pid 1234
//	load -addr 127.0.0.1:7000 -c 100 -size 64 -rate 30000 -d 5s -pid 1234
//	load -proto http -addr 127.0.0.1:7000 -c 100 -rate 30000 -d 5s -pid 1234
//	load -mode idle -addr 127.0.0.1:7000 -c 10000 -pid 1234
//	load -mode idle -proto http -addr 127.0.0.1:7000 -c 10000 -pid 1234
//
// A human summary goes to stderr; the last line on stdout is "RESULT " and
// the procstat.Result as JSON.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/eddyloop/eddy/bench/internal/procstat"
)

func main() {
	mode := flag.String("mode", "echo", "echo | idle")
	proto := flag.String("proto", "echo", "echo | http: what each connection sends and checks")
	addr := flag.String("addr", "127.0.0.1:7000", "server address (loopback only)")
	nconn := flag.Int("c", 100, "connections")
	size := flag.Int("size", 64, "message size in bytes")
	rate := flag.Float64("rate", 0, "echo: total messages per second (0: closed loop)")
	dur := flag.Duration("d", 10*time.Second, "echo: measuring window")
	warm := flag.Duration("warmup", time.Second, "echo: warm-up before the window")
	pid := flag.Int("pid", 0, "server PID to measure (CPU in echo mode, RSS in idle mode)")
	sources := flag.String("sources", "127.0.0.1,127.0.0.2,127.0.0.3,127.0.0.4", "idle: local source addresses")
	settle := flag.Duration("settle", 2*time.Second, "idle: minimum wait before each RSS reading")
	timeout := flag.Duration("timeout", 60*time.Second, "idle: limit for each phase")
	flag.Parse()

	ta, err := net.ResolveTCPAddr("tcp4", *addr)
	if err != nil || !ta.IP.IsLoopback() {
		fatal("-addr must be a loopback IPv4 address and port, got %q", *addr)
	}
	if *nconn < 1 || *size < 1 {
		fatal("-c and -size must be positive")
	}
	if *proto != "echo" && *proto != "http" {
		fatal("unknown -proto %q", *proto)
	}
	isHTTP := *proto == "http"
	var res *procstat.Result
	switch *mode {
	case "echo":
		if *dur <= 0 || *dur > time.Hour || *warm < 0 {
			fatal("-d must be in (0, 1h] and -warmup not negative")
		}
		res, err = runEcho(echoConfig{addr: ta, http: isHTTP, conns: *nconn, size: *size, rate: *rate, warmup: *warm, window: *dur, pid: *pid})
	case "idle":
		if *pid <= 0 {
			fatal("idle mode needs -pid")
		}
		var srcs []net.IP
		for s := range strings.SplitSeq(*sources, ",") {
			ip := net.ParseIP(strings.TrimSpace(s)).To4()
			if ip == nil || !ip.IsLoopback() {
				fatal("source %q is not a loopback IPv4 address", s)
			}
			srcs = append(srcs, ip)
		}
		res, err = runIdle(idleConfig{addr: ta, http: isHTTP, conns: *nconn, size: *size, pid: *pid, sources: srcs, settle: *settle, timeout: *timeout})
	default:
		fatal("unknown -mode %q", *mode)
	}
	if res != nil {
		fmt.Println(res.Line())
	}
	if err != nil {
		fatal("%v", err)
	}
}

func fatal(f string, a ...any) {
	fmt.Fprintf(os.Stderr, "load: "+f+"\n", a...)
	os.Exit(2)
}
