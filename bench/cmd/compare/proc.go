package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// procs tracks every process the driver started and has not reaped, so that
// an interrupted run signals exactly those and nothing else.
type procs struct {
	mu   sync.Mutex
	live map[int]*exec.Cmd
}

func newProcs() *procs { return &procs{live: map[int]*exec.Cmd{}} }

func (p *procs) add(c *exec.Cmd) {
	p.mu.Lock()
	p.live[c.Process.Pid] = c
	p.mu.Unlock()
}

func (p *procs) forget(c *exec.Cmd) {
	p.mu.Lock()
	delete(p.live, c.Process.Pid)
	p.mu.Unlock()
}

// killAll sends SIGKILL to every process still tracked.
func (p *procs) killAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for pid, c := range p.live {
		c.Process.Kill()
		delete(p.live, pid)
	}
}

// server is one running echo server.
type server struct {
	cmd  *exec.Cmd
	addr string
	pid  int
	done chan struct{} // closed when the process has exited
}

// startServer runs argv pinned to cpu with GOMAXPROCS=1, its output going to
// logPath, and waits until it accepts connections on addr.
func (d *driver) startServer(argv []string, addr, logPath string) (*server, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := d.pinned(d.cfg.srvCPU, argv...)
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	d.procs.add(cmd)
	s := &server{cmd: cmd, addr: addr, pid: cmd.Process.Pid, done: make(chan struct{})}
	go func() { cmd.Wait(); close(s.done) }()
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		select {
		case <-s.done:
			d.procs.forget(cmd)
			return nil, fmt.Errorf("exited before listening (%v; see %s)", cmd.ProcessState, logPath)
		default:
		}
		if c, err := net.DialTimeout("tcp4", addr, time.Second); err == nil {
			c.Close()
			return s, nil
		}
	}
	d.stopServer(s)
	return nil, fmt.Errorf("not listening on %s after 10s (see %s)", addr, logPath)
}

// pinned returns the command running argv on the CPUs cpus (taskset) at the
// configured nice value. nice and taskset both exec, so the process started
// is the one that runs argv.
func (d *driver) pinned(cpus string, argv ...string) *exec.Cmd {
	args := append([]string{"-c", cpus}, argv...)
	if d.cfg.nice == 0 {
		return exec.Command("taskset", args...)
	}
	args = append([]string{"-n", fmt.Sprint(d.cfg.nice), "taskset"}, args...)
	return exec.Command("nice", args...)
}

// stopServer sends SIGTERM, then SIGKILL after 3 s, and reaps the process.
func (d *driver) stopServer(s *server) {
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(3 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
	d.procs.forget(s.cmd)
}

// runLoad runs the load generator pinned to the load CPU with the given
// arguments, killed if it is still running after limit, appending its output
// to logPath, and returns its standard output.
func (d *driver) runLoad(limit time.Duration, logPath string, args ...string) ([]byte, error) {
	cmd := d.pinned(d.cfg.loadCPU, append([]string{d.bin("load")}, args...)...)
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	fmt.Fprintf(logf, "$ load %v\n", args)
	var out bytes.Buffer // complete once Wait returns
	cmd.Stdout, cmd.Stderr = &out, logf
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	d.procs.add(cmd)
	var timedOut atomic.Bool
	t := time.AfterFunc(limit, func() {
		timedOut.Store(true)
		cmd.Process.Kill()
	})
	err = cmd.Wait()
	t.Stop()
	d.procs.forget(cmd)
	logf.Write(out.Bytes())
	if timedOut.Load() {
		err = fmt.Errorf("load killed after %v", limit)
	}
	return out.Bytes(), err
}

// nextAddr returns a loopback address with the next port from the base port
// that nothing listens on now. Ports below the ephemeral range (32768 and
// up) do not collide with the load generator's own sockets.
func (d *driver) nextAddr() (string, error) {
	for range 1000 {
		d.port++
		addr := fmt.Sprintf("127.0.0.1:%d", d.port)
		if ln, err := net.Listen("tcp4", addr); err == nil {
			ln.Close()
			return addr, nil
		}
	}
	return "", fmt.Errorf("no free port above %d", d.port)
}
