package testutil

import (
	"os"
	"os/exec"
	"testing"
)

// NeedPeer returns the path of the command tool, an external peer that a
// test runs (curl, wrk, nginx, dnsmasq, ...), which the Debian package pkg
// installs. Without it the test is skipped with a message naming the
// package, except when the environment variable CI is set (CI sets
// CI=true): there test.sh has installed every peer, so a missing one is a
// failure, and a green run always means the peers ran. Tools in /usr/sbin,
// such as nginx and dnsmasq, are found when that is not on PATH.
func NeedPeer(t testing.TB, tool, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(tool)
	if err == nil {
		return path
	}
	if p := "/usr/sbin/" + tool; isExecutable(p) {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is required when CI is set (test.sh installs the Debian package %s): %v", tool, pkg, err)
	}
	t.Skipf("%s not installed (test.sh installs it: apt-get install %s)", tool, pkg)
	return ""
}

func isExecutable(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}
