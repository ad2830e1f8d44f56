package main

import (
	"bytes"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eddyloop/eddy/internal/testutil"
)

// TestEchoBinary builds the eddy command and runs "eddy echo" as the
// shared harness does: every byte sent over TCP or Unix comes back, a UDP
// datagram too, and SIGTERM stops it with exit status 0.
func TestEchoBinary(t *testing.T) {
	bin := buildEddy(t)
	addr := freeAddr(t)
	path := filepath.Join(t.TempDir(), "echo.sock")
	cmd := exec.Command(bin, "echo", "-addr", addr, "-unix", path, "-udp", "-loops", "2")
	p := &process{cmd: cmd, addr: addr, stderr: new(syncBuffer), done: make(chan struct{})}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
	})
	if !testutil.Eventually(10*time.Second, func() bool { return strings.Contains(p.stderr.String(), "echoing udp") }) {
		t.Fatalf("eddy echo did not start:\n%s", p.stderr.String())
	}

	data := make([]byte, 4<<20)
	for i := range data {
		data[i] = byte(i * 31 / 7)
	}
	for _, target := range [][2]string{{"tcp", addr}, {"unix", path}} {
		c, err := net.Dial(target[0], target[1])
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(20 * time.Second))
		go func() {
			c.Write(data)
			if cw, ok := c.(interface{ CloseWrite() error }); ok {
				cw.CloseWrite()
			}
		}()
		got, err := io.ReadAll(c)
		c.Close()
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("%s: %d bytes of %d back, %v", target[0], len(got), len(data), err)
		}
	}
	u, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	u.SetDeadline(time.Now().Add(5 * time.Second))
	u.Write([]byte("datagram"))
	buf := make([]byte, 64)
	if n, err := u.Read(buf); err != nil || string(buf[:n]) != "datagram" {
		t.Errorf("udp: %q, %v", buf[:n], err)
	}

	// An idle connection open at shutdown is closed.
	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	idle.Write([]byte("x"))
	io.ReadFull(idle, make([]byte, 1))
	p.stop(t, syscall.SIGTERM, "terminated: stopped after")
	if _, err := io.ReadAll(idle); err != nil {
		t.Errorf("idle connection at shutdown: %v, want EOF", err)
	}
}

// startEcho runs "eddy echo -addr A args..." with env added to its
// environment, and waits until it listens on TCP. It is killed if it still
// runs when the test ends.
func startEcho(t *testing.T, bin string, env []string, args ...string) *process {
	t.Helper()
	addr := freeAddr(t)
	cmd := exec.Command(bin, append([]string{"echo", "-addr", addr}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	p := &process{cmd: cmd, addr: addr, stderr: new(syncBuffer), done: make(chan struct{})}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
	})
	if !testutil.Eventually(10*time.Second, func() bool { return strings.Contains(p.stderr.String(), "listening on tcp") }) {
		t.Fatalf("eddy echo did not start:\n%s", p.stderr.String())
	}
	return p
}

// TestEchoDefault runs "eddy echo -addr A" as the shared harness does, with
// GOMAXPROCS=1: one loop (the default is one per processor), TCP only;
// SIGINT stops it with status 0. With GOMAXPROCS=3 the default is three
// loops, and the first line shows -backend's choice.
func TestEchoDefault(t *testing.T) {
	bin := buildEddy(t)
	p := startEcho(t, bin, []string{"GOMAXPROCS=1"})
	if first := firstLine(p.stderr.String()); !strings.Contains(first, "(1 loop, ") {
		t.Errorf("first line with GOMAXPROCS=1: %q, want 1 loop", first)
	}
	c, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write([]byte("hello"))
	got := make([]byte, 5)
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "hello" {
		t.Fatalf("echo %q, %v", got, err)
	}
	p.stop(t, syscall.SIGINT, "interrupt: stopped after 1 connection")

	p = startEcho(t, bin, []string{"GOMAXPROCS=3"}, "-backend", "poll")
	if first := firstLine(p.stderr.String()); !strings.Contains(first, "(3 loops, poll backend)") {
		t.Errorf("first line with GOMAXPROCS=3 -backend poll: %q, want 3 loops and the poll backend", first)
	}
	p.stop(t, syscall.SIGTERM, "terminated: stopped after 0 connections")
}

// firstLine returns the first line of s.
func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func TestEchoUsage(t *testing.T) {
	for _, args := range [][]string{
		{"-loops", "-1"}, {"-addr", "nonsense"}, {"extra"}, {"-nosuchflag"}, {"-backend", "select"},
	} {
		var stdout, stderr bytes.Buffer
		if status := runEcho(args, &stdout, &stderr); status != 2 {
			t.Errorf("eddy echo %q: status %d, want 2\n%s", args, status, stderr.String())
		}
	}
	// An address in use is an error (status 1), not a usage error.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var out bytes.Buffer
	if status := runEcho([]string{"-addr", l.Addr().String(), "-quiet"}, io.Discard, &out); status != 1 {
		t.Errorf("eddy echo on a busy address: status %d, want 1\n%s", status, out.String())
	}
	var stderr bytes.Buffer
	if status := runEcho([]string{"-h"}, io.Discard, &stderr); status != 0 || !strings.Contains(stderr.String(), "usage: eddy echo") {
		t.Errorf("eddy echo -h: status %d\n%s", status, stderr.String())
	}
}
