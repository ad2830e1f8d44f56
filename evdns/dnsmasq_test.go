package evdns

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/internal/testutil"
)

// The dnsmasq tests run the resolver against a real server: dnsmasq
// (Debian package dnsmasq-base), started on 127.0.0.1 with a random port
// and a test zone given on its command line. It reads no configuration
// file, no hosts file and no resolv.conf, and has no upstream server:
// nothing leaves loopback. Without dnsmasq the tests are skipped, or fail
// when the CI environment variable is set (testutil.NeedPeer).

// dnsmasqTXT is the TXT set of big.zone.test: 10 strings of 200 bytes,
// over the 1232 bytes of the EDNS0 buffer, so the UDP answer is truncated
// and the resolver must ask again over TCP.
func dnsmasqTXT() []string { return bigTXT() }

func dnsmasqArgs(port int) []string {
	args := []string{
		"--no-daemon", "--port=" + strconv.Itoa(port), "--listen-address=127.0.0.1", "--bind-interfaces",
		"--no-resolv", "--no-hosts", "--conf-file=/dev/null", "--log-facility=-",
		"--local=/zone.test/", "--local=/2.0.192.in-addr.arpa/",
		"--host-record=www.zone.test,192.0.2.1,2001:db8::1",
		"--host-record=v4.zone.test,192.0.2.4",
		"--cname=alias.zone.test,alias2.zone.test",
		"--cname=alias2.zone.test,www.zone.test",
		"--mx-host=zone.test,mail.zone.test,10",
		"--srv-host=_http._tcp.zone.test,www.zone.test,80,1,5",
		"--txt-record=txt.zone.test,hello world", "--local-ttl=60",
		"--txt-record=big.zone.test," + strings.Join(dnsmasqTXT(), ","),
		"--ptr-record=9.2.0.192.in-addr.arpa,ptr.zone.test",
		"--address=/bench.zone.test/192.0.2.7", // any name under it, for the benchmark
	}
	if u, err := user.Current(); err == nil {
		args = append(args, "--user="+u.Username)
	}
	return args
}

// startDnsmasq starts dnsmasq with the test zone and returns its address;
// it is stopped when the test ends.
func startDnsmasq(t testing.TB) netip.AddrPort {
	t.Helper()
	addr, _ := startDnsmasqPid(t)
	return addr
}

// startDnsmasqPid is startDnsmasq that also returns dnsmasq's process ID.
func startDnsmasqPid(t testing.TB) (netip.AddrPort, int) {
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
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		addr := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
		if probe(addr, exited) {
			t.Cleanup(func() {
				cmd.Process.Kill()
				<-exited
			})
			return addr, cmd.Process.Pid
		}
		cmd.Process.Kill()
		<-exited
	}
	t.Fatalf("dnsmasq did not start:\n%s", out.String())
	return netip.AddrPort{}, 0
}

// freePort returns a port free for both UDP and TCP on 127.0.0.1.
func freePort(t testing.TB) int {
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

// probe waits for dnsmasq to answer a query, for up to 5s, unless it
// exits first.
func probe(addr netip.AddrPort, exited chan error) bool {
	msg, _ := buildQuery(dnsmessage.MustNewName("www.zone.test."), dnsmessage.TypeA, false)
	binary.BigEndian.PutUint16(msg, 0x4242)
	c, err := net.Dial("udp4", addr.String())
	if err != nil {
		return false
	}
	defer c.Close()
	buf := make([]byte, 2048)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		select {
		case <-exited:
			return false
		default:
		}
		c.Write(msg)
		c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		if n, err := c.Read(buf); err == nil && n > 2 && binary.BigEndian.Uint16(buf) == 0x4242 {
			return true
		}
	}
	return false
}

func TestDnsmasq(t *testing.T) {
	addr := startDnsmasq(t)
	rl := startLoop(t)
	c := testConfig(time.Second, 2, addr)
	c.Search = []string{"zone.test"}
	r := newTestResolver(t, rl, c, nil, nil)

	t.Run("host", func(t *testing.T) {
		got, err := lookupHost(t, rl, r, "www")
		if err != nil || !slices.Equal(got, addrs("192.0.2.1", "2001:db8::1")) {
			t.Fatalf("got %v, %v", got, err)
		}
	})
	t.Run("cname", func(t *testing.T) {
		ans, err := lookup(t, rl, r, "alias.zone.test.", dnsmessage.TypeA)
		if err != nil || !slices.Equal(ans.Addrs, addrs("192.0.2.1")) ||
			!slices.Equal(ans.CNAMEs, []string{"alias2.zone.test.", "www.zone.test."}) {
			t.Fatalf("got %+v, %v", ans, err)
		}
		got, err := lookupHost(t, rl, r, "alias")
		if err != nil || !slices.Equal(got, addrs("192.0.2.1", "2001:db8::1")) {
			t.Fatalf("LookupHost: %v, %v", got, err)
		}
	})
	t.Run("mx", func(t *testing.T) {
		ans, err := lookup(t, rl, r, "zone.test.", dnsmessage.TypeMX)
		if err != nil || len(ans.Records) != 1 {
			t.Fatalf("got %+v, %v", ans, err)
		}
		mx := ans.Records[0].Body.(*dnsmessage.MXResource)
		if mx.Pref != 10 || mx.MX.String() != "mail.zone.test." {
			t.Errorf("MX %v", mx)
		}
	})
	t.Run("srv", func(t *testing.T) {
		ans, err := lookup(t, rl, r, "_http._tcp.zone.test.", dnsmessage.TypeSRV)
		if err != nil || len(ans.Records) != 1 {
			t.Fatalf("got %+v, %v", ans, err)
		}
		srv := ans.Records[0].Body.(*dnsmessage.SRVResource)
		if srv.Port != 80 || srv.Priority != 1 || srv.Weight != 5 || srv.Target.String() != "www.zone.test." {
			t.Errorf("SRV %v", srv)
		}
	})
	t.Run("txt", func(t *testing.T) {
		ans, err := lookup(t, rl, r, "txt", dnsmessage.TypeTXT)
		if err != nil || len(ans.Records) != 1 || !slices.Equal(ans.Records[0].Body.(*dnsmessage.TXTResource).TXT, []string{"hello world"}) {
			t.Fatalf("got %+v, %v", ans, err)
		}
	})
	t.Run("tcp-fallback", func(t *testing.T) {
		before := stats(rl, r).TCP
		ans, err := lookup(t, rl, r, "big.zone.test.", dnsmessage.TypeTXT)
		if err != nil || len(ans.Records) != 1 || !slices.Equal(ans.Records[0].Body.(*dnsmessage.TXTResource).TXT, dnsmasqTXT()) {
			t.Fatalf("got %+v, %v", ans, err)
		}
		if n := stats(rl, r).TCP - before; n != 1 {
			t.Errorf("%d TCP queries, want 1", n)
		}
	})
	t.Run("ptr", func(t *testing.T) {
		names, err := lookupAddr(t, rl, r, netip.MustParseAddr("192.0.2.9"))
		if err != nil || !slices.Equal(names, []string{"ptr.zone.test."}) {
			t.Fatalf("got %v, %v", names, err)
		}
		names, err = lookupAddr(t, rl, r, netip.MustParseAddr("192.0.2.1"))
		if err != nil || !slices.Equal(names, []string{"www.zone.test."}) {
			t.Fatalf("host-record PTR: %v, %v", names, err)
		}
	})
	t.Run("nxdomain", func(t *testing.T) {
		_, err := lookupHost(t, rl, r, "nope.zone.test.")
		if !errors.Is(err, ErrNXDomain) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("nodata", func(t *testing.T) {
		_, err := lookup(t, rl, r, "v4.zone.test.", dnsmessage.TypeAAAA)
		if !errors.Is(err, ErrNoData) {
			t.Fatalf("err = %v", err)
		}
	})
	if s := stats(rl, r); s.Dropped != 0 || s.Timeouts != 0 || s.InFlight != 0 {
		t.Errorf("stats = %+v", s)
	}
}

// BenchmarkDnsmasqConcurrent sends 1,000 concurrent uncached lookups (A,
// distinct names) to the local dnsmasq per iteration: evdns on one loop,
// beside Go's pure Go net.Resolver with one goroutine per lookup.
func BenchmarkDnsmasqConcurrent(b *testing.B) {
	const n = 1000
	addr := startDnsmasq(b)
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("h%d.bench.zone.test.", i)
	}
	b.Run("evdns", func(b *testing.B) {
		l, err := eddy.NewLoop(nil)
		if err != nil {
			b.Fatal(err)
		}
		defer l.Close()
		r := NewResolver(l, testConfig(2*time.Second, 2, addr), nil, &ResolverConfig{CacheSize: -1, MaxInFlight: n})
		defer r.Close()
		failed := 0
		cb := func(a *Answer, err error) {
			if err != nil {
				failed++
			}
		}
		b.ResetTimer()
		start := time.Now()
		for range b.N {
			for _, name := range names {
				r.Lookup(name, dnsmessage.TypeA, cb)
			}
			if err := l.Run(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n*b.N)/time.Since(start).Seconds(), "queries/s")
		if failed > 0 {
			b.Errorf("%d lookups failed; stats %+v", failed, r.Stats())
		}
	})
	b.Run("net.Resolver", func(b *testing.B) {
		nr := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr.String())
		}}
		var failed sync.Map
		b.ResetTimer()
		start := time.Now()
		for range b.N {
			var wg sync.WaitGroup
			for _, name := range names {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if _, err := nr.LookupNetIP(context.Background(), "ip4", name); err != nil {
						failed.Store(name, err)
					}
				}()
			}
			wg.Wait()
		}
		b.ReportMetric(float64(n*b.N)/time.Since(start).Seconds(), "queries/s")
		failed.Range(func(k, v any) bool { b.Errorf("%v: %v", k, v); return false })
	})
}
