package eddy

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/eddyloop/eddy/internal/poller"
	"golang.org/x/sys/unix"
)

// goPoller parks the loop goroutine in Go's runtime network poller
// (Config.GoPoller): a duplicate of the backend's descriptor is handed to
// the runtime as a nonblocking file, and the loop waits for it to become
// readable through syscall.RawConn.Read, which parks the goroutine, not an
// OS thread. The backend is then only ever polled with a zero timeout.
//
// The backend's Wait consumes a wake-up (Post, Wake, Async.Send) without
// reporting it as an event, so a Wait that returns no events cannot tell
// "nothing happened" from "woken". poll therefore never calls Wait before
// it knows the descriptor is readable: on the first call it only peeks with
// poll(2), and after the runtime reports readability it calls Wait and
// returns, events or not, so that the loop runs an iteration and finds
// what the wake-up was for.
type goPoller struct {
	file   *os.File // nil when not in use
	rc     syscall.RawConn
	be     poller.Poller
	out    []poller.Event
	n      int
	err    error
	peeked bool                  // the first call of this wait has looked
	peek   [1]unix.PollFd        // poll(2) argument for the readiness peek
	read   func(fd uintptr) bool // g.poll, bound once so that waiting does not allocate
}

func (g *goPoller) open(be poller.Poller) error {
	p, ok := be.(poller.Pollable)
	if !ok {
		return ErrNotPollable
	}
	// F_DUPFD_CLOEXEC, not Dup and CloseOnExec: a fork and exec between
	// the two would leak the descriptor into the child.
	fd, err := unix.FcntlInt(uintptr(p.Fd()), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("eddy: go poller: %w", err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return fmt.Errorf("eddy: go poller: %w", err)
	}
	f := os.NewFile(uintptr(fd), be.Name())
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return fmt.Errorf("eddy: go poller: %w", err)
	}
	g.file, g.rc, g.be = f, rc, be
	g.peek[0] = unix.PollFd{Fd: int32(fd), Events: unix.POLLIN}
	g.read = g.poll
	return nil
}

// poll is RawConn.Read's callback. On the first call it reports done only
// if the descriptor is readable already; otherwise the runtime parks until
// the descriptor becomes readable and calls it again, and it is done. When
// done, it takes the backend's events, if any, with a zero-timeout Wait.
func (g *goPoller) poll(uintptr) bool {
	if !g.peeked {
		g.peeked = true
		n, err := unix.Poll(g.peek[:], 0)
		if err == nil && n == 0 {
			return false // not readable: park
		}
		// Readable, or the peek failed (EINTR): let Wait decide.
	}
	g.n, g.err = g.be.Wait(g.out, 0)
	return true
}

func (g *goPoller) wait(out []poller.Event, timeout time.Duration) (int, error) {
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	if err := g.file.SetReadDeadline(deadline); err != nil {
		return 0, err
	}
	g.out, g.n, g.err, g.peeked = out, 0, nil, false
	err := g.rc.Read(g.read)
	g.out = nil
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return 0, nil
		}
		return 0, err
	}
	return g.n, g.err
}

func (g *goPoller) close() error {
	if g.file == nil {
		return nil
	}
	err := g.file.Close()
	g.file = nil
	return err
}
