package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eddyloop/eddy/bench/internal/httpcheck"
	"github.com/eddyloop/eddy/bench/internal/procstat"
)

type idleConfig struct {
	addr            *net.TCPAddr
	http            bool // one HTTP request per connection instead of an echo
	conns, size     int
	pid             int
	sources         []net.IP
	settle, timeout time.Duration
}

// parallelism is how many goroutines dial and echo in the idle mode.
const parallelism = 64

func runIdle(cfg idleConfig) (*procstat.Result, error) {
	msg := bytes.Repeat([]byte("x"), cfg.size)
	what := "echo"
	if cfg.http {
		msg, what = []byte(httpcheck.Request), "request"
	}
	// Warm up on a throwaway connection, so that lazy one-time allocations
	// of the server are part of the baseline.
	if err := once(cfg.addr, msg, cfg.http); err != nil {
		return nil, fmt.Errorf("warm-up: %w", err)
	}
	time.Sleep(cfg.settle)
	fd0, err := procstat.FDs(cfg.pid)
	if err != nil {
		return nil, err
	}
	rss0 := stableRSS(cfg.pid, 0, cfg.timeout)

	conns := make([]*net.TCPConn, cfg.conns)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	deadline := time.Now().Add(cfg.timeout)
	var dialErrs atomic.Int64
	parallel(cfg.conns, func(i int) {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: cfg.sources[i%len(cfg.sources)]}, Timeout: 5 * time.Second}
		var err error
		for try := 0; try < 5 && time.Now().Before(deadline); try++ {
			var c net.Conn
			if c, err = d.Dial("tcp4", cfg.addr.String()); err == nil {
				conns[i] = c.(*net.TCPConn)
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		if dialErrs.Add(1) == 1 {
			fmt.Fprintf(os.Stderr, "load: dial %d: %v\n", i, err)
		}
	})
	if n := dialErrs.Load(); n > 0 {
		return nil, fmt.Errorf("%d of %d connections failed", n, cfg.conns)
	}
	accepted := 0
	for end := time.Now().Add(cfg.timeout); ; time.Sleep(100 * time.Millisecond) {
		n, err := procstat.FDs(cfg.pid)
		if err != nil {
			return nil, err
		}
		if accepted = n - fd0; accepted >= cfg.conns || time.Now().After(end) {
			break
		}
	}
	if accepted < cfg.conns {
		fmt.Fprintf(os.Stderr, "load: the server holds only %d new descriptors for %d connections\n", accepted, cfg.conns)
	}
	time.Sleep(cfg.settle)
	rss1 := stableRSS(cfg.pid, rss0, cfg.timeout)

	var errs atomic.Int64
	var firstErr atomic.Value
	parallel(cfg.conns, func(i int) {
		c := conns[i]
		c.SetDeadline(time.Now().Add(cfg.timeout))
		err := roundTrip(c, msg, cfg.http)
		c.SetDeadline(time.Time{})
		if err != nil {
			errs.Add(1)
			firstErr.CompareAndSwap(nil, err)
		}
	})
	if n := errs.Load(); n > 0 {
		return nil, fmt.Errorf("%d of %d %ss failed (first: %v)", n, cfg.conns, what, firstErr.Load())
	}
	time.Sleep(cfg.settle)
	rss2 := stableRSS(cfg.pid, rss1, cfg.timeout)

	n := int64(cfg.conns)
	res := &procstat.Result{
		Mode: "idle", Proto: "echo", Conns: cfg.conns, Size: len(msg), Accepted: accepted,
		RSSBefore: rss0, RSSIdle: rss1, RSSMsg: rss2,
		IdlePerConn: (rss1 - rss0) / n, MsgPerConn: (rss2 - rss0) / n,
	}
	if cfg.http {
		res.Proto = "http"
	}
	fmt.Fprintf(os.Stderr, "load %s pid %d: %d conns (server fds +%d): VmRSS %d KiB before, %d KiB idle, %d KiB after one %s each: %d B idle, %d B after the %s per conn\n",
		cfg.addr, cfg.pid, cfg.conns, accepted, rss0>>10, rss1>>10, rss2>>10, what, res.IdlePerConn, res.MsgPerConn, what)
	if accepted < cfg.conns {
		return res, fmt.Errorf("server accepted %d of %d connections", accepted, cfg.conns)
	}
	return res, nil
}

// once does one round trip on a connection of its own.
func once(addr *net.TCPAddr, msg []byte, http bool) error {
	c, err := net.DialTimeout("tcp4", addr.String(), 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	return roundTrip(c, msg, http)
}

// roundTrip writes msg on c and reads its echo, checked byte for byte, or,
// with http, the response to the request msg, checked with httpcheck.Parse.
func roundTrip(c net.Conn, msg []byte, http bool) error {
	if _, err := c.Write(msg); err != nil {
		return err
	}
	if !http {
		buf := make([]byte, len(msg))
		if _, err := io.ReadFull(c, buf); err != nil {
			return err
		}
		if !bytes.Equal(buf, msg) {
			return errors.New("echo differs")
		}
		return nil
	}
	var resp []byte
	buf := make([]byte, 512)
	for {
		m, err := c.Read(buf)
		resp = append(resp, buf[:m]...)
		n, perr := httpcheck.Parse(resp)
		switch {
		case perr != nil:
			return perr
		case n > 0 && n < len(resp):
			return fmt.Errorf("%d unexpected bytes after the response", len(resp)-n)
		case n > 0:
			return nil
		case err == io.EOF:
			return errors.New("connection closed by the server")
		case err != nil:
			return err
		}
	}
}

// parallel runs fn(0) ... fn(n-1) on parallelism goroutines.
func parallel(n int, fn func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range parallelism {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				fn(i)
			}
		})
	}
	wg.Wait()
}

// stableRSS polls the VmRSS of pid every 250 ms until three readings in a
// row agree within 1% of the growth over base (at least 64 KiB), or until
// limit has passed, and returns the last reading.
func stableRSS(pid int, base int64, limit time.Duration) int64 {
	end := time.Now().Add(limit)
	prev, _ := procstat.RSS(pid)
	for same := 0; time.Now().Before(end); {
		time.Sleep(250 * time.Millisecond)
		cur, err := procstat.RSS(pid)
		if err != nil {
			return prev
		}
		tol := max((cur-base)/100, 64<<10)
		if d := cur - prev; d <= tol && d >= -tol {
			if same++; same >= 2 {
				return cur
			}
		} else {
			same = 0
		}
		prev = cur
	}
	return prev
}
