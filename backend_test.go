package eddy_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/internal/testutil"
)

// TestBackendsRun runs a loop on each backend Backends lists, chosen by
// name: an IO watcher on a readable pipe, a timer and a Post all call back.
func TestBackendsRun(t *testing.T) {
	names := eddy.Backends()
	if !slices.Contains(names, "poll") {
		t.Errorf("Backends() = %q, want poll among them (every unix has it)", names)
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			l, err := eddy.NewLoop(&eddy.Config{BackendName: name, Debug: true, Logger: quiet})
			if err != nil {
				t.Fatalf("NewLoop(BackendName %q): %v", name, err)
			}
			defer l.Close()
			if l.Backend() != name {
				t.Errorf("BackendName %q: Backend() = %q", name, l.Backend())
			}
			r, w := testutil.Pipe(t)
			var tr trace
			io := eddy.NewIO(func(w *eddy.IO, ev eddy.Events) { tr.add("io %v", ev); w.Stop() }, r, eddy.Read)
			tm := eddy.NewTimer(func(*eddy.Timer) { tr.add("timer") }, time.Millisecond, 0)
			must(t, io.Start(l))
			tm.Start(l)
			l.Post(func() { tr.add("post") })
			if _, err := unix.Write(w, []byte{1}); err != nil {
				t.Fatal(err)
			}
			must(t, l.Run()) // until the IO watcher and the timer are done
			slices.Sort(tr)
			tr.check(t, "a loop on "+name, fmt.Sprintf("io %v", eddy.Read), "post", "timer")
		})
	}
}

// TestBackendDefault: an empty BackendName and "auto" pick the first of
// Backends(), as a zero Config does.
func TestBackendDefault(t *testing.T) {
	want := eddy.Backends()[0]
	for _, name := range []string{"", "auto"} {
		l, err := eddy.NewLoop(&eddy.Config{BackendName: name})
		if err != nil {
			t.Fatalf("NewLoop(BackendName %q): %v", name, err)
		}
		if got := l.Backend(); got != want {
			t.Errorf("BackendName %q: Backend() = %q, want %q", name, got, want)
		}
		l.Close()
	}
}

// TestBackendUnknown: a name no backend here has fails with
// ErrUnknownBackend and an error naming every valid choice.
func TestBackendUnknown(t *testing.T) {
	names := []string{"select", "EPOLL", " poll", "iocp"}
	if !slices.Contains(eddy.Backends(), "kqueue") {
		names = append(names, "kqueue")
	}
	if !slices.Contains(eddy.Backends(), "epoll") {
		names = append(names, "epoll")
	}
	for _, name := range names {
		l, err := eddy.NewLoop(&eddy.Config{BackendName: name})
		if err == nil {
			l.Close()
			t.Errorf("NewLoop(BackendName %q) succeeded with backend %q", name, l.Backend())
			continue
		}
		if !errors.Is(err, eddy.ErrUnknownBackend) {
			t.Errorf("NewLoop(BackendName %q) = %v, want ErrUnknownBackend", name, err)
		}
		for _, valid := range append([]string{"auto"}, eddy.Backends()...) {
			if !strings.Contains(err.Error(), valid) {
				t.Errorf("NewLoop(BackendName %q) = %q, which does not name the valid choice %q", name, err, valid)
			}
		}
	}
}

// TestBackendAndName: a custom Backend and a BackendName together are a
// mistake NewLoop reports, and the custom backend is not closed.
func TestBackendAndName(t *testing.T) {
	_, be, _ := newFake(t)
	_, err := eddy.NewLoop(&eddy.Config{Backend: be, BackendName: "poll"})
	if err == nil || !strings.Contains(err.Error(), "both") {
		t.Errorf("NewLoop with Backend and BackendName = %v, want an error saying both are set", err)
	}
	if be.Closed() {
		t.Errorf("the refused custom backend was closed")
	}
}
