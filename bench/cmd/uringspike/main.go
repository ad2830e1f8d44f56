// Command uringspike is the issue-12 spike: the same one-thread echo/HTTP
// server on level-triggered epoll (a Go copy of the C reference
// shared/bench/cref/epollsrv.c) and on io_uring (multishot accept, multishot
// receive from a provided buffer ring, sends queued while completions are
// processed and submitted with the wait in one io_uring_enter), so that the
// CPU per request of the two can be compared at a fixed load. It is a
// measurement tool, not a backend: see docs/bench-2026-12-07-io_uring.md.
//
//	uringspike -addr 127.0.0.1:8080 -mode echo|http -backend epoll|uring
//
// If io_uring cannot be set up (ENOSYS, EPERM from a seccomp filter or
// kernel.io_uring_disabled, or a kernel without provided buffer rings), it
// prints one line and serves with epoll. -uring-fail simulates that.
package main

import (
	"flag"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

type options struct {
	http       bool
	setupFlags uint32 // IORING_SETUP_*
	countWait  bool   // wait for 1 + the sends submitted (see uringsrv.go)
	regRing    bool   // register the ring fd, enter with IORING_ENTER_REGISTERED_RING
	nbufs      int    // provided buffers (power of two)
	bufSize    int
	simFail    bool // pretend io_uring_setup returned EPERM
	stats      bool
	waitCall   int // waitSys, waitRaw or waitHold
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address (host:port)")
	mode := flag.String("mode", "echo", "echo | http")
	backend := flag.String("backend", "uring", "epoll | uring")
	flags := flag.String("flags", "single,defer", "io_uring setup flags, comma separated: single (SINGLE_ISSUER), defer (DEFER_TASKRUN), coop (COOP_TASKRUN), taskrunflag (TASKRUN_FLAG), submitall (SUBMIT_ALL), nosqarray (NO_SQARRAY), or none")
	wait := flag.String("wait", "count", "io_uring wait: count (one enter per iteration: min_complete = 1 + sends submitted) | plain (min_complete = 1)")
	call := flag.String("call", "sys", "how the loop blocks, both backends: sys (a system call the Go scheduler sees, as unix.EpollWait) | raw (RawSyscall: hidden from the scheduler, as C) | hold (eddy's way: a raw look that does not block, then sys only if nothing was ready)")
	regRing := flag.Bool("regring", false, "register the ring's own fd (IORING_ENTER_REGISTERED_RING)")
	nbufs := flag.Int("bufs", 1024, "provided buffers in the ring (power of two)")
	bufSize := flag.Int("bufsize", 4096, "bytes per provided buffer")
	stats := flag.Bool("stats", false, "on SIGINT/SIGTERM, print io_uring loop counters (enters, completions, re-arms) and exit")
	simFail := flag.Bool("uring-fail", false, "simulate io_uring_setup failing with EPERM (as under a seccomp filter)")
	flag.Parse()

	o := options{http: *mode == "http", countWait: *wait == "count", regRing: *regRing,
		nbufs: *nbufs, bufSize: *bufSize, simFail: *simFail}
	if *mode != "http" && *mode != "echo" {
		fatalf("unknown -mode %q", *mode)
	}
	if *wait != "count" && *wait != "plain" {
		fatalf("unknown -wait %q", *wait)
	}
	if *nbufs <= 0 || *nbufs&(*nbufs-1) != 0 || *nbufs > 32768 {
		fatalf("-bufs must be a power of two up to 32768")
	}
	f, err := parseSetupFlags(*flags)
	if err != nil {
		fatalf("%v", err)
	}
	o.setupFlags = f
	o.stats = *stats
	switch *call {
	case "sys":
		o.waitCall = waitSys
	case "raw":
		o.waitCall = waitRaw
	case "hold":
		o.waitCall = waitHold
	default:
		fatalf("unknown -call %q", *call)
	}

	runtime.LockOSThread()
	unix.Setrlimit(unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: 1 << 20, Max: 1 << 20})
	lfd, err := listen(*addr)
	if err != nil {
		fatalf("listen: %v", err)
	}
	switch *backend {
	case "epoll":
		err = serveEpoll(lfd, o)
	case "uring":
		err = serveUring(lfd, o, os.Stderr)
	default:
		fatalf("unknown -backend %q", *backend)
	}
	fatalf("%v", err)
}

const (
	waitSys = iota
	waitRaw
	waitHold
)

func fatalf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "uringspike: "+format+"\n", a...)
	os.Exit(1)
}

func parseSetupFlags(s string) (uint32, error) {
	var f uint32
	for _, name := range strings.Split(s, ",") {
		switch strings.TrimSpace(name) {
		case "", "none":
		case "single":
			f |= setupSingleIssuer
		case "defer":
			f |= setupDeferTaskrun | setupSingleIssuer
		case "coop":
			f |= setupCoopTaskrun
		case "taskrunflag":
			f |= setupTaskrunFlag
		case "submitall":
			f |= setupSubmitAll
		case "nosqarray":
			f |= setupNoSQArray
		default:
			return 0, fmt.Errorf("unknown io_uring flag %q", name)
		}
	}
	return f, nil
}

// listen makes a nonblocking IPv4 listener without the Go netpoller.
func listen(addr string) (int, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || !ap.Addr().Is4() {
		return -1, fmt.Errorf("bad IPv4 address %q", addr)
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	sa := &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
	// A previous io_uring server on this port may still hold its listener
	// for a moment after exiting (the ring is torn down asynchronously).
	for i := 0; ; i++ {
		err := unix.Bind(fd, sa)
		if err == nil {
			break
		}
		if err != unix.EADDRINUSE || i == 40 {
			unix.Close(fd)
			return -1, err
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := unix.Listen(fd, 4096); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}
