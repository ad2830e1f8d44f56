package interop

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/eddyloop/eddy/internal/testutil"
	"github.com/eddyloop/eddy/internal/wsconform"
)

// eddyBinary builds the eddy command of the main module (../) once per
// test binary.
func eddyBinary(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "eddy")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/eddy")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/eddy: %v\n%s", err, out)
	}
	return bin
}

var listening = regexp.MustCompile(`listening on (wss?://[^/ ]+/)`)

// startEddyWS runs eddy ws on a loopback port with args and returns its
// URL; the process is ended when the test ends.
func startEddyWS(t *testing.T, bin string, args ...string) string {
	t.Helper()
	if err := exec.Command(bin, "ws", "-h").Run(); err != nil {
		if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 2 {
			out, _ := exec.Command(bin, "help").CombinedOutput()
			if !regexp.MustCompile(`(?m)^\s+ws\s`).Match(out) {
				t.Skip("eddy has no ws command yet")
			}
		}
	}
	cmd := exec.Command(bin, append([]string{"ws", "-addr", "127.0.0.1:0"}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = os.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sent := false
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil && !sent {
				urlc <- m[1]
				sent = true
			} else {
				t.Logf("eddy ws: %s", sc.Text())
			}
		}
		if !sent {
			close(urlc)
		}
	}()
	select {
	case u, ok := <-urlc:
		if !ok {
			t.Fatal("eddy ws exited without listening")
		}
		return u
	case <-time.After(20 * time.Second):
		t.Fatal("eddy ws did not say where it listens within 20 s")
	}
	return ""
}

// eddyWSKnown: the cases of eddy ws that are not OK, each with its
// reason; the goal is none but the informational ones.
var eddyWSKnown = map[string]wsconform.Grade{
	"7.1.6": wsconform.Informational, "7.13.1": wsconform.Informational, "7.13.2": wsconform.Informational,
}

// TestEddyWS runs the table against the eddy ws binary, as a user starts
// it: without permessage-deflate (its default: groups 1 to 10) and with
// -deflate (the whole table).
func TestEddyWS(t *testing.T) {
	bin := eddyBinary(t)
	pki := testutil.TestPKI(t)
	cert, key, _ := pki.Files(t)
	for _, tc := range []struct {
		name  string
		args  []string
		match string
		tls   bool
	}{
		{"plain", nil, "-12,-13", false},
		{"deflate", []string{"-deflate"}, "", false},
		{"wss", []string{"-deflate", "-tls-cert", cert, "-tls-key", key}, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := startEddyWS(t, bin, tc.args...)
			checkReport(t, "eddy ws "+tc.name, eddyWSKnown, func(cfg wsconform.Config) (*wsconform.Report, error) {
				cfg.URL = url
				cfg.Match = wsconform.MatchIDs(tc.match)
				if tc.tls {
					cfg.TLS = pki.ClientConfig()
				}
				return wsconform.RunClient(context.Background(), cfg)
			})
		})
	}
}
