package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/eddyloop/eddy/bench/internal/httpcheck"
	"github.com/eddyloop/eddy/bench/internal/procstat"
)

type echoConfig struct {
	addr           *net.TCPAddr
	http           bool // send httpcheck.Request and check each response
	conns, size    int
	rate           float64
	warmup, window time.Duration
	pid            int
}

// conn is one load connection; it has at most one message in flight.
type conn struct {
	fd    int
	got   int    // bytes of the current echo received
	resp  []byte // http: bytes of the current response received
	woff  int    // bytes of the current message written
	sent  int64  // when the current message was sent (ns since start)
	busy  bool   // a message is in flight
	dead  bool   // closed
	wwait bool   // waiting for EPOLLOUT
}

// histMax is the top of the latency histogram, in 1 µs buckets.
const histMax = 1_000_000

// stallLimit ends a run when no echo has completed for this long.
const stallLimit = 3 * time.Second

type echoRun struct {
	echoConfig
	epfd   int
	msg    []byte
	rbuf   []byte
	conns  []*conn
	byFd   []*conn
	free   []*conn // fixed rate: connections with nothing in flight
	hist   []uint32
	base   time.Time
	active int
	errs   int64
}

func (r *echoRun) now() int64 { return int64(time.Since(r.base)) }

func runEcho(cfg echoConfig) (*procstat.Result, error) {
	r := &echoRun{echoConfig: cfg, rbuf: make([]byte, 64<<10), hist: make([]uint32, histMax+1)}
	if cfg.http {
		r.msg = []byte(httpcheck.Request)
		r.size = len(r.msg)
	} else {
		r.msg = make([]byte, cfg.size)
		for i := range r.msg {
			r.msg[i] = byte('a' + i%26)
		}
	}
	var err error
	if r.epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	defer unix.Close(r.epfd)
	defer r.closeAll()
	sa := &unix.SockaddrInet4{Port: cfg.addr.Port}
	copy(sa.Addr[:], cfg.addr.IP.To4())
	for range cfg.conns {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("socket: %w", err)
		}
		c := &conn{fd: fd}
		if cfg.http {
			c.resp = make([]byte, 0, 512)
		}
		r.conns = append(r.conns, c)
		for fd >= len(r.byFd) {
			r.byFd = append(r.byFd, nil)
		}
		r.byFd[fd] = c
		if err := unix.Connect(fd, sa); err != nil {
			return nil, fmt.Errorf("connect %s: %w", cfg.addr, err)
		}
		unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
		if err := unix.SetNonblock(fd, true); err != nil {
			return nil, err
		}
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}
		if err := unix.EpollCtl(r.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
			return nil, fmt.Errorf("epoll_ctl: %w", err)
		}
	}
	r.active = len(r.conns)
	return r.loop()
}

func (r *echoRun) loop() (*procstat.Result, error) {
	var (
		measured, dropped int64
		interval, next    int64
		inWindow          bool
		srv0, load0       float64
		srv1, load1       float64
		wStart, wEnd      time.Time
	)
	r.base = time.Now()
	mStart := r.base.Add(r.warmup)
	lastDone := r.base
	if r.rate > 0 {
		interval = max(int64(1e9/r.rate), 1)
		r.free = append(r.free, r.conns...)
	} else {
		for _, c := range r.conns {
			r.send(c)
		}
	}
	events := make([]unix.EpollEvent, 256)
	for r.active > 0 {
		timeout := 50
		if r.rate > 0 {
			// epoll_wait has 1 ms resolution: sleep to the millisecond
			// that has a slot due, then send every due slot.
			if wait := next - r.now(); wait <= 0 {
				timeout = 0
			} else {
				timeout = min(timeout, int((wait+999_999)/1e6))
			}
		}
		n, err := unix.EpollWait(r.epfd, events, timeout)
		if err != nil {
			if err != unix.EINTR {
				return nil, fmt.Errorf("epoll_wait: %w", err)
			}
			n = 0 // interrupted (the Go runtime preempts with signals)
		}
		t := time.Now()
		if !inWindow && !t.Before(mStart) {
			inWindow, wStart = true, t
			srv0, load0 = r.cpu()
		}
		if inWindow && t.Sub(wStart) >= r.window {
			wEnd = t
			srv1, load1 = r.cpu()
			break
		}
		if t.Sub(lastDone) > stallLimit && (r.rate == 0 || len(r.free) < len(r.conns)) {
			r.errs += int64(r.active)
			return nil, fmt.Errorf("no %s for %v (%d connections open)", r.what(), stallLimit, r.active)
		}
		for _, ev := range events[:n] {
			c := r.byFd[ev.Fd]
			if c == nil || c.dead {
				continue
			}
			if ev.Events&unix.EPOLLOUT != 0 {
				r.write(c)
			}
			if ev.Events&(unix.EPOLLIN|unix.EPOLLHUP|unix.EPOLLERR) == 0 || c.dead {
				continue
			}
			if !r.read(c) {
				continue
			}
			c.busy = false
			lastDone = t
			if inWindow {
				us := min((r.now()-c.sent)/1000, histMax)
				r.hist[us]++
				measured++
			}
			if r.rate > 0 {
				r.free = append(r.free, c)
			} else {
				r.send(c)
			}
		}
		if r.rate > 0 {
			for cur := r.now(); next <= cur; next += interval {
				if len(r.free) == 0 {
					if inWindow {
						dropped++
					}
					continue
				}
				c := r.free[len(r.free)-1]
				r.free = r.free[:len(r.free)-1]
				r.send(c)
			}
		}
	}
	if wEnd.IsZero() {
		return nil, errors.New("every connection failed")
	}
	win := wEnd.Sub(wStart).Seconds()
	res := &procstat.Result{
		Mode: "echo", Proto: r.proto(), Conns: len(r.conns), Size: r.size, Rate: r.rate,
		WindowSec: win, Msgs: measured, MsgsPerS: float64(measured) / win,
		P50us: pct(r.hist, measured, 0.50), P99us: pct(r.hist, measured, 0.99),
		Errors: r.errs, Dropped: dropped, SrvCPU: srv1 - srv0, LoadCPU: load1 - load0,
	}
	mode := "closed loop"
	if r.rate > 0 {
		mode = fmt.Sprintf("fixed rate %.0f/s", r.rate)
	}
	what := fmt.Sprintf("%d B echo", r.size)
	if r.http {
		what = "HTTP GET"
	}
	fmt.Fprintf(os.Stderr, "load %s: %s, %s, %d conns, %.2fs: %.0f msgs/s, p50 %dus p99 %dus, errors %d, dropped %d, server CPU %.2fs, load CPU %.2fs\n",
		r.addr, what, mode, len(r.conns), win, res.MsgsPerS, res.P50us, res.P99us, r.errs, dropped, res.SrvCPU, res.LoadCPU)
	if measured == 0 {
		return res, fmt.Errorf("no %s completed in the window", r.what())
	}
	if r.errs > 0 {
		return res, fmt.Errorf("%d connections failed", r.errs)
	}
	return res, nil
}

// cpu returns the server's and this process's CPU seconds so far.
func (r *echoRun) cpu() (srv, self float64) {
	if r.pid > 0 {
		srv, _ = procstat.CPUSeconds(r.pid)
	}
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) == nil {
		self = float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
	}
	return srv, self
}

// what names one round trip, for errors.
func (r *echoRun) what() string {
	if r.http {
		return "response"
	}
	return "echo"
}

func (r *echoRun) proto() string {
	if r.http {
		return "http"
	}
	return "echo"
}

func (r *echoRun) send(c *conn) {
	c.got, c.woff, c.busy = 0, 0, true
	c.resp = c.resp[:0]
	c.sent = r.now()
	r.write(c)
}

func (r *echoRun) write(c *conn) {
	for c.woff < len(r.msg) {
		n, err := unix.Write(c.fd, r.msg[c.woff:])
		if n > 0 {
			c.woff += n
			continue
		}
		switch err {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			if !c.wwait {
				c.wwait = true
				r.watch(c, unix.EPOLLIN|unix.EPOLLOUT)
			}
			return
		}
		r.fail(c, "write", err)
		return
	}
	if c.wwait {
		c.wwait = false
		r.watch(c, unix.EPOLLIN)
	}
}

// read consumes what is readable on c and reports whether the echo of the
// message in flight (or the response to the request in flight) is now
// complete.
func (r *echoRun) read(c *conn) bool {
	n, err := unix.Read(c.fd, r.rbuf)
	if n <= 0 {
		if err == unix.EAGAIN || err == unix.EINTR {
			return false
		}
		if err == nil {
			err = errors.New("closed by the server")
		}
		r.fail(c, "read", err)
		return false
	}
	if r.http {
		return r.readResponse(c, r.rbuf[:n])
	}
	want := c.woff - c.got // never more than was sent
	if !c.busy || n > want || !bytes.Equal(r.rbuf[:n], r.msg[c.got:c.got+n]) {
		r.fail(c, "verify", fmt.Errorf("echo differs: got %d bytes, %d outstanding", n, want))
		return false
	}
	c.got += n
	return c.got == len(r.msg)
}

// readResponse adds data to the response in flight on c and reports whether
// it is complete; a response that is not the wanted one, or bytes when no
// request is in flight or after the response, fail the connection.
func (r *echoRun) readResponse(c *conn, data []byte) bool {
	if !c.busy {
		r.fail(c, "verify", fmt.Errorf("%d bytes with no request in flight", len(data)))
		return false
	}
	c.resp = append(c.resp, data...)
	n, err := httpcheck.Parse(c.resp)
	switch {
	case err != nil:
		r.fail(c, "verify", err)
		return false
	case n == 0:
		return false
	case n < len(c.resp):
		r.fail(c, "verify", fmt.Errorf("%d unexpected bytes after the response", len(c.resp)-n))
		return false
	}
	return true
}

func (r *echoRun) watch(c *conn, events uint32) {
	ev := unix.EpollEvent{Events: events, Fd: int32(c.fd)}
	unix.EpollCtl(r.epfd, unix.EPOLL_CTL_MOD, c.fd, &ev)
}

func (r *echoRun) fail(c *conn, what string, err error) {
	fmt.Fprintf(os.Stderr, "load: connection fd %d: %s: %v\n", c.fd, what, err)
	unix.Close(c.fd)
	c.dead = true
	r.errs++
	r.active--
}

func (r *echoRun) closeAll() {
	for _, c := range r.conns {
		if !c.dead {
			unix.Close(c.fd)
			c.dead = true
		}
	}
}

// pct returns the q-quantile of the latency histogram h holding total
// samples, in microseconds.
func pct(h []uint32, total int64, q float64) int64 {
	if total == 0 {
		return 0
	}
	rank := max(int64(float64(total)*q+0.5), 1)
	var acc int64
	for us, n := range h {
		acc += int64(n)
		if acc >= rank {
			return int64(us)
		}
	}
	return histMax
}
