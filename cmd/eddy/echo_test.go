package main

import (
	"bytes"
	"io"
	"net"
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
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("no go command to build with: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "eddy")
	if out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
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

// TestEchoDefault runs "eddy echo -addr A" as the shared harness does: one
// loop, TCP only; SIGINT stops it with status 0.
func TestEchoDefault(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("no go command to build with: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "eddy")
	if out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	addr := freeAddr(t)
	cmd := exec.Command(bin, "echo", "-addr", addr)
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
	if !testutil.Eventually(10*time.Second, func() bool { return strings.Contains(p.stderr.String(), "(1 loops") }) {
		t.Fatalf("eddy echo did not start:\n%s", p.stderr.String())
	}
	c, err := net.Dial("tcp", addr)
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
	p.stop(t, syscall.SIGINT, "interrupt: stopped after 1 connections")
}

func TestEchoUsage(t *testing.T) {
	for _, args := range [][]string{
		{"-loops", "-1"}, {"-addr", "nonsense"}, {"extra"}, {"-nosuchflag"},
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
