package eddy_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eddyloop/eddy"
	"golang.org/x/sys/unix"
)

func kill(t testing.TB, sig syscall.Signal) {
	t.Helper()
	if err := unix.Kill(os.Getpid(), sig); err != nil {
		t.Fatalf("kill(self, %v): %v", sig, err)
	}
}

// Two loops watching one signal both get it; so do two watchers in one loop.
func TestSignalFanOut(t *testing.T) {
	t.Run("two loops", func(t *testing.T) {
		var loops [2]*eddy.Loop
		var got [2]int
		for i := range loops {
			loops[i] = newReal(t)
			s := new(eddy.Signal)
			s.Init(func(s *eddy.Signal) {
				got[i]++
				s.Stop()
			}, syscall.SIGUSR1)
			must(t, s.Start(loops[i]))
		}
		kill(t, syscall.SIGUSR1)
		var done [2]<-chan error
		for i, l := range loops {
			done[i] = runAsync(l.Run)
		}
		for i := range loops {
			must(t, await(t, done[i], 20*time.Second, fmt.Sprintf("Run of loop %d", i)))
			if got[i] != 1 {
				t.Errorf("loop %d: %d callbacks, want 1", i, got[i])
			}
		}
	})
	t.Run("two watchers", func(t *testing.T) {
		l := newReal(t)
		var tr trace
		for _, name := range []string{"a", "b"} {
			s := new(eddy.Signal)
			s.Init(func(s *eddy.Signal) {
				tr.add("%s:%v", name, s.Signum())
				s.Stop()
			}, syscall.SIGUSR1)
			must(t, s.Start(l))
		}
		kill(t, syscall.SIGUSR1)
		must(t, await(t, runAsync(l.Run), 20*time.Second, "Run"))
		tr.check(t, "two watchers", "a:"+syscall.SIGUSR1.String(), "b:"+syscall.SIGUSR1.String())
	})
}

// After Stop, the loop no longer hears the signal; after a restart it does.
func TestSignalStop(t *testing.T) {
	l := newReal(t)
	calls := 0
	s := new(eddy.Signal)
	s.Init(func(s *eddy.Signal) { calls++; s.Stop() }, syscall.SIGUSR2)
	must(t, s.Start(l))
	must(t, s.Start(l)) // idempotent
	s.Stop()
	s.Stop()

	guard := make(chan os.Signal, 1)
	signal.Notify(guard, syscall.SIGUSR2)
	defer signal.Stop(guard)
	delivered := func() {
		t.Helper()
		select {
		case <-guard:
		case <-time.After(20 * time.Second):
			t.Fatal("SIGUSR2 was not delivered")
		}
	}
	kill(t, syscall.SIGUSR2)
	delivered()
	must(t, l.RunNoWait())
	if calls != 0 {
		t.Errorf("a stopped Signal watcher got %d callbacks", calls)
	}

	must(t, s.Start(l))
	kill(t, syscall.SIGUSR2)
	delivered()
	must(t, await(t, runAsync(l.Run), 20*time.Second, "Run")) // returns once s stops itself
	if calls != 1 {
		t.Errorf("a restarted Signal watcher got %d callbacks, want 1", calls)
	}
	if s.Signum() != syscall.SIGUSR2 {
		t.Errorf("Signum() = %v, want %v", s.Signum(), syscall.SIGUSR2)
	}
}

func TestSignalBadSignals(t *testing.T) {
	l, _, _ := newFake(t)
	for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGSTOP, 0, -1, 65} {
		s := new(eddy.Signal)
		s.Init(func(*eddy.Signal) {}, sig)
		if err := s.Start(l); !errors.Is(err, eddy.ErrBadSignal) || s.IsActive() {
			t.Errorf("Start(%d) = %v, IsActive() = %v; want ErrBadSignal, false", int(sig), err, s.IsActive())
		}
	}
	if l.Refs() != 0 {
		t.Errorf("Refs() = %d after failed Starts", l.Refs())
	}
	s := new(eddy.Signal)
	s.Init(func(*eddy.Signal) {}, syscall.SIGUSR1)
	must(t, l.Close())
	if err := s.Start(l); !errors.Is(err, eddy.ErrClosed) {
		t.Errorf("Start on a closed loop = %v, want ErrClosed", err)
	}
}

// Close stops the loop's Signal watchers, so that its bridge goroutine
// ends (the leak check in TestMain would see it otherwise).
func TestSignalClose(t *testing.T) {
	l := newReal(t)
	s := new(eddy.Signal)
	s.Init(func(*eddy.Signal) {}, syscall.SIGUSR1)
	must(t, s.Start(l))
	must(t, l.Close())
	if s.IsActive() {
		t.Errorf("Signal active after Close")
	}
}

const signalHelperEnv = "EDDY_TEST_SIGNAL_HELPER"

// While a Signal watches SIGTERM the process survives it; once the last
// watcher stops, SIGTERM's default action (exit) is back. Checked in a
// child process, which is expected to die.
func TestSignalStopRestoresDefault(t *testing.T) {
	if os.Getenv(signalHelperEnv) == "1" {
		signalHelper()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestSignalStopRestoresDefault$", "-test.count=1")
	cmd.Env = append(os.Environ(), signalHelperEnv+"=1")
	stdin, err := cmd.StdinPipe() // keeps the child blocked until it dies
	must(t, err)
	defer stdin.Close()
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("child: %v, want death by SIGTERM; output:\n%s", err, out.String())
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGTERM {
		t.Fatalf("child: %v, want death by SIGTERM; output:\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "caught SIGTERM") {
		t.Errorf("child did not report catching the first SIGTERM; output:\n%s", out.String())
	}
}

func signalHelper() {
	l, err := eddy.NewLoop(nil)
	if err != nil {
		fmt.Println(err)
		os.Exit(2)
	}
	s := new(eddy.Signal)
	s.Init(func(s *eddy.Signal) {
		fmt.Println("caught SIGTERM")
		s.Stop()
	}, syscall.SIGTERM)
	if err := s.Start(l); err != nil {
		fmt.Println(err)
		os.Exit(2)
	}
	unix.Kill(os.Getpid(), syscall.SIGTERM)
	if err := l.Run(); err != nil { // returns once the watcher stopped
		fmt.Println(err)
		os.Exit(2)
	}
	unix.Kill(os.Getpid(), syscall.SIGTERM) // no watcher left: fatal
	io.ReadAll(os.Stdin)                    // until the parent gives up
	fmt.Println("still alive after the second SIGTERM")
	os.Exit(3)
}
