package main

import (
	"bytes"
	"fmt"
	"net"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eddyloop/eddy/internal/testutil"
)

// The resolve tests run "eddy resolve" in-process against dnsmasq started
// on 127.0.0.1 with a random port and a test zone on its command line (no
// configuration file, hosts file, resolv.conf or upstream: nothing leaves
// loopback), and always pass -server: they never ask the machine's
// resolvers. Without dnsmasq they are skipped, or fail when CI=true.

// bigTXT is the TXT set of big.zone.test: 10 strings of 200 bytes, more
// than the 1232 bytes of the EDNS0 buffer, so the UDP answer is truncated.
func bigTXT() []string {
	s := make([]string, 10)
	for i := range s {
		s[i] = fmt.Sprintf("%d%s", i, strings.Repeat("x", 199))
	}
	return s
}

func dnsmasqArgs(port int) []string {
	args := []string{
		"--no-daemon", "--port=" + strconv.Itoa(port), "--listen-address=127.0.0.1", "--bind-interfaces",
		"--no-resolv", "--no-hosts", "--conf-file=/dev/null", "--log-facility=-",
		"--local=/zone.test/", "--local=/2.0.192.in-addr.arpa/", "--local-ttl=60",
		"--host-record=www.zone.test,192.0.2.1,2001:db8::1",
		"--host-record=v4.zone.test,192.0.2.4",
		"--cname=alias.zone.test,www.zone.test",
		"--mx-host=zone.test,mail.zone.test,10",
		"--txt-record=txt.zone.test,hello world",
		"--txt-record=big.zone.test," + strings.Join(bigTXT(), ","),
		"--ptr-record=9.2.0.192.in-addr.arpa,ptr.zone.test",
	}
	if u, err := user.Current(); err == nil {
		args = append(args, "--user="+u.Username)
	}
	return args
}

// freePort returns a port free for both UDP and TCP on 127.0.0.1.
func freePort(t *testing.T) int {
	for {
		u, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := u.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp4", u.LocalAddr().String())
		u.Close()
		if err == nil {
			l.Close()
			return port
		}
	}
}

// startDnsmasq starts dnsmasq with the test zone and returns its
// "127.0.0.1:PORT"; it is stopped when the test ends.
func startDnsmasq(t *testing.T) string {
	t.Helper()
	path := testutil.NeedPeer(t, "dnsmasq", "dnsmasq-base")
	var out bytes.Buffer
	for range 5 {
		port := freePort(t)
		out.Reset()
		cmd := exec.Command(path, dnsmasqArgs(port)...)
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		addr := "127.0.0.1:" + strconv.Itoa(port)
		// Ready when it answers: until then the port refuses (ICMP), which
		// makes the lookup fail at once with status 2. If it exits (the
		// port was taken meanwhile), try another port.
		up := false
		testutil.Eventually(5*time.Second, func() bool {
			select {
			case <-exited:
				return true
			default:
			}
			st, _, _ := resolve("-server", addr, "-type", "A", "www.zone.test")
			up = st == 0
			return up
		})
		if up {
			t.Cleanup(func() {
				cmd.Process.Kill()
				<-exited
			})
			return addr
		}
		cmd.Process.Kill()
		<-exited
	}
	t.Fatalf("dnsmasq did not start:\n%s", out.String())
	return ""
}

// resolve runs "eddy resolve args..." and returns its status and output.
func resolve(args ...string) (status int, stdout, stderr string) {
	var o, e bytes.Buffer
	status = dispatch(append([]string{"resolve"}, args...), &o, &e)
	return status, o.String(), e.String()
}

func TestResolve(t *testing.T) {
	addr := startDnsmasq(t)
	txtLine := "big.zone.test. 60 TXT "
	for i, s := range bigTXT() {
		if i > 0 {
			txtLine += " "
		}
		txtLine += strconv.Quote(s)
	}
	tests := []struct {
		name   string
		args   []string
		status int
		out    string // the whole output, or a line of stderr when status is 2
	}{
		{"host", []string{"www.zone.test"}, 0, "www.zone.test. 60 A 192.0.2.1\nwww.zone.test. 60 AAAA 2001:db8::1\n"},
		{"a", []string{"-type", "A", "www.zone.test."}, 0, "www.zone.test. 60 A 192.0.2.1\n"},
		{"aaaa", []string{"-type", "aaaa", "www.zone.test"}, 0, "www.zone.test. 60 AAAA 2001:db8::1\n"},
		{"cname", []string{"-type", "A", "alias.zone.test"}, 0, "alias.zone.test. 60 CNAME www.zone.test.\nwww.zone.test. 60 A 192.0.2.1\n"},
		{"mx", []string{"-type", "MX", "zone.test"}, 0, "zone.test. 60 MX 10 mail.zone.test.\n"},
		{"txt", []string{"-type", "TXT", "txt.zone.test"}, 0, "txt.zone.test. 60 TXT \"hello world\"\n"},
		{"ptr", []string{"-x", "192.0.2.9"}, 0, "9.2.0.192.in-addr.arpa. 60 PTR ptr.zone.test.\n"},
		{"several", []string{"-type", "A", "www.zone.test", "v4.zone.test"}, 0, "www.zone.test. 60 A 192.0.2.1\nv4.zone.test. 60 A 192.0.2.4\n"},
		{"any", []string{"-type", "ANY", "v4.zone.test"}, 0, "v4.zone.test. 60 A 192.0.2.4\n"},
		{"truncated-udp", []string{"-type", "TXT", "big.zone.test"}, 0, txtLine + "\n"},
		{"truncated-tcp", []string{"-tcp", "-type", "TXT", "big.zone.test"}, 0, txtLine + "\n"},
		{"nxdomain", []string{"nope.zone.test"}, 1, ""},
		{"nodata", []string{"-type", "AAAA", "v4.zone.test"}, 1, ""},
		{"one-missing", []string{"-type", "A", "www.zone.test", "nope.zone.test"}, 1, "www.zone.test. 60 A 192.0.2.1\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, out, errOut := resolve(append([]string{"-server", addr}, tt.args...)...)
			if st != tt.status || out != tt.out {
				t.Errorf("status %d, output:\n%s\nwant %d:\n%s\nstderr: %s", st, out, tt.status, tt.out, errOut)
			}
			if st == 1 && !strings.Contains(errOut, "nope.zone.test") && !strings.Contains(errOut, "v4.zone.test") {
				t.Errorf("stderr does not name the name: %q", errOut)
			}
		})
	}
}

func TestResolveErrors(t *testing.T) {
	// A closed UDP port on loopback: ICMP port unreachable, so the lookup
	// fails at once with ErrTimeout ("no answer from any server").
	u, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := u.LocalAddr().String()
	u.Close()
	st, out, errOut := resolve("-server", dead, "-type", "A", "www.zone.test")
	if st != 2 || out != "" || !strings.Contains(errOut, "no answer from any server") {
		t.Errorf("dead server: status %d, stdout %q, stderr %q", st, out, errOut)
	}

	for _, args := range [][]string{
		{"-server", dead},                             // no name
		{"-server", "nowhere", "x.test"},              // bad server
		{"-server", dead, "-type", "BOGUS", "x.test"}, // bad type
		{"-server", dead, "-x", "not-an-address"},
		{"-server", dead, "-x", "192.0.2.1", "extra.test"},
	} {
		if st, _, errOut := resolve(args...); st != 2 || !strings.Contains(errOut, "usage: eddy resolve") {
			t.Errorf("%q: status %d, stderr %q", args, st, errOut)
		}
	}
	if st, _, _ := resolve("-h"); st != 0 {
		t.Errorf("-h: status %d", st)
	}
}
