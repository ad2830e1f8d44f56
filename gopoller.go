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
type goPoller struct {
	file *os.File // nil when not in use
	rc   syscall.RawConn
	be   poller.Poller
	out  []poller.Event
	n    int
	err  error
	read func(fd uintptr) bool // c.poll, bound once so that waiting does not allocate
}

func (g *goPoller) open(be poller.Poller) error {
	p, ok := be.(poller.Pollable)
	if !ok {
		return ErrNotPollable
	}
	fd, err := unix.Dup(p.Fd())
	if err != nil {
		return fmt.Errorf("eddy: go poller: %w", err)
	}
	unix.CloseOnExec(fd)
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
	g.read = g.poll
	return nil
}

// poll is RawConn.Read's callback: it reports done when the backend has
// events (or failed); otherwise the runtime parks until the descriptor is
// readable and calls it again.
func (g *goPoller) poll(uintptr) bool {
	g.n, g.err = g.be.Wait(g.out, 0)
	return g.n > 0 || g.err != nil
}

func (g *goPoller) wait(out []poller.Event, timeout time.Duration) (int, error) {
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	if err := g.file.SetReadDeadline(deadline); err != nil {
		return 0, err
	}
	g.out = out
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
