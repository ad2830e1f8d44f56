package evnet_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eddyloop/eddy/evnet"
	"github.com/eddyloop/eddy/internal/testutil"
)

// TestAppendProxyHeader checks the headers byte for byte against the
// examples and layout of HAProxy's proxy-protocol.txt.
func TestAppendProxyHeader(t *testing.T) {
	ap := netip.MustParseAddrPort
	v2 := func(fam byte, rest ...byte) string {
		return "\r\n\r\n\x00\r\nQUIT\n\x21" + string(fam) + string(rest)
	}
	for _, tc := range []struct {
		v        evnet.ProxyProtocol
		src, dst netip.AddrPort
		want     string
	}{
		{evnet.ProxyV1, ap("192.0.2.1:51234"), ap("198.51.100.2:443"), "PROXY TCP4 192.0.2.1 198.51.100.2 51234 443\r\n"},
		{evnet.ProxyV1, ap("[2001:db8::1]:1"), ap("[2001:db8::2]:65535"), "PROXY TCP6 2001:db8::1 2001:db8::2 1 65535\r\n"},
		// A dual-stack listener's IPv4 clients come mapped: both unmapped.
		{evnet.ProxyV1, ap("[::ffff:192.0.2.1]:5"), ap("[::ffff:127.0.0.1]:80"), "PROXY TCP4 192.0.2.1 127.0.0.1 5 80\r\n"},
		// Families that differ meet in IPv6.
		{evnet.ProxyV1, ap("192.0.2.1:5"), ap("[2001:db8::2]:80"), "PROXY TCP6 ::ffff:192.0.2.1 2001:db8::2 5 80\r\n"},
		{evnet.ProxyV1, ap("[fe80::1%eth0]:5"), ap("[fe80::2%eth0]:80"), "PROXY TCP6 fe80::1 fe80::2 5 80\r\n"},
		{evnet.ProxyV1, netip.AddrPort{}, ap("127.0.0.1:80"), "PROXY UNKNOWN\r\n"},
		// The longest version 1 header.
		{evnet.ProxyV1, ap("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535"), ap("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535"),
			"PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n"},
		{evnet.ProxyV2, ap("192.0.2.1:51234"), ap("198.51.100.2:443"),
			v2(0x11, 0, 12, 192, 0, 2, 1, 198, 51, 100, 2, 0xc8, 0x22, 0x01, 0xbb)},
		{evnet.ProxyV2, ap("[::ffff:192.0.2.1]:5"), ap("127.0.0.1:80"),
			v2(0x11, 0, 12, 192, 0, 2, 1, 127, 0, 0, 1, 0, 5, 0, 80)},
		{evnet.ProxyV2, ap("[2001:db8::1]:1"), ap("[2001:db8::2]:2"),
			v2(0x21, 0, 36, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
				0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 1, 0, 2)},
		{evnet.ProxyV2, ap("127.0.0.1:5"), netip.AddrPort{}, v2(0x00, 0, 0)},
	} {
		got, err := evnet.AppendProxyHeader([]byte("x"), tc.v, tc.src, tc.dst)
		if err != nil || string(got) != "x"+tc.want {
			t.Errorf("AppendProxyHeader(v%d, %v, %v) = %q, %v; want %q", tc.v, tc.src, tc.dst, got, err, "x"+tc.want)
		}
		if len(got)-1 > 107 {
			t.Errorf("%d bytes, more than the 107 the protocol allows", len(got)-1)
		}
	}
	for _, v := range []evnet.ProxyProtocol{evnet.ProxyNone, 3} {
		if got, err := evnet.AppendProxyHeader(nil, v, ap("127.0.0.1:1"), ap("127.0.0.1:2")); !errors.Is(err, evnet.ErrProxyProtocol) || len(got) != 0 {
			t.Errorf("version %d: %q, %v; want ErrProxyProtocol", v, got, err)
		}
	}
}

// TestRelayProxyProtocol: the upstream reads the header, with the client's
// address and port and the address it connected to, before the client's
// first byte; a version that does not exist ends the relay.
func TestRelayProxyProtocol(t *testing.T) {
	for _, v := range []evnet.ProxyProtocol{evnet.ProxyV1, evnet.ProxyV2} {
		got := make(chan []byte, 1)
		upstream := upstreamListener(t, func(c *net.TCPConn) {
			b, _ := io.ReadAll(c)
			got <- b
		})
		addr, results := startRelayProxy(t, upstream, &evnet.RelayConfig{ProxyProtocol: v}, evnet.ConnConfig{})
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte("hello"))
		c.(*net.TCPConn).CloseWrite()
		io.ReadAll(c)
		c.Close()
		src := netip.MustParseAddrPort(c.LocalAddr().String())
		dst := netip.MustParseAddrPort(addr)
		want, _ := evnet.AppendProxyHeader(nil, v, src, dst)
		if b := <-got; string(b) != string(want)+"hello" {
			t.Errorf("v%d: the upstream read %q, want %q", v, b, string(want)+"hello")
		}
		if r := waitRelay(t, results); r.err != nil || r.stats.AToB != 5 {
			t.Errorf("v%d: done(%+v, %v)", v, r.stats, r.err)
		}
	}

	upstream := upstreamListener(t, func(c *net.TCPConn) { io.Copy(io.Discard, c) })
	addr, results := startRelayProxy(t, upstream, &evnet.RelayConfig{ProxyProtocol: 9}, evnet.ConnConfig{})
	// The relay resets the connection as it accepts it: the dial may
	// fail with the reset, or the first read.
	if c, err := net.Dial("tcp", addr); err == nil {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil {
			t.Errorf("the client read %d bytes, %v: want the connection closed", n, err)
		}
		c.Close()
	}
	if r := waitRelay(t, results); !errors.Is(r.err, evnet.ErrProxyProtocol) {
		t.Errorf("done(%+v, %v), want ErrProxyProtocol", r.stats, r.err)
	}
}

// nginxProxyConf is an nginx that takes the PROXY protocol on its
// listener and answers with the client address it learnt from it.
const nginxProxyConf = `# written by evnet's PROXY protocol test
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 64; }
http {
	access_log off;
%[3]s	server {
		listen 127.0.0.1:%[2]d proxy_protocol;
		location / { return 200 "$proxy_protocol_addr $proxy_protocol_port $proxy_protocol_server_addr $proxy_protocol_server_port\n"; }
	}
}
`

// TestRelayProxyProtocolNginx relays HTTP requests to nginx listening
// with proxy_protocol: with either version, nginx reports the client's
// address and port and the relay's, as the relay saw them.
func TestRelayProxyProtocolNginx(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "tmp"), 0o755); err != nil {
		t.Fatal(err)
	}
	upstream := testutil.StartNginx(t, dir, func(port int) []byte {
		return fmt.Appendf(nil, nginxProxyConf, dir, port, testutil.NginxTemps(dir))
	})
	for _, v := range []evnet.ProxyProtocol{evnet.ProxyV1, evnet.ProxyV2} {
		addr, results := startRelayProxy(t, upstream, &evnet.RelayConfig{ProxyProtocol: v}, evnet.ConnConfig{})
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		resp, err := io.ReadAll(bufio.NewReader(c))
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
		src := netip.MustParseAddrPort(c.LocalAddr().String())
		dst := netip.MustParseAddrPort(addr)
		want := fmt.Sprintf("%s %d %s %d\n", src.Addr(), src.Port(), dst.Addr(), dst.Port())
		if !strings.HasPrefix(string(resp), "HTTP/1.1 200") || !strings.HasSuffix(string(resp), "\r\n\r\n"+want) {
			t.Errorf("v%d: nginx answered %q, want a 200 with %q", v, resp, want)
		}
		waitRelay(t, results)
	}
}

// A PROXY protocol header of each version for one connection.
func ExampleAppendProxyHeader() {
	client := netip.MustParseAddrPort("192.0.2.1:51234")
	local := netip.MustParseAddrPort("198.51.100.2:443")
	v1, _ := evnet.AppendProxyHeader(nil, evnet.ProxyV1, client, local)
	v2, _ := evnet.AppendProxyHeader(nil, evnet.ProxyV2, client, local)
	fmt.Printf("%q\n% x\n", v1, v2)
	// Output:
	// "PROXY TCP4 192.0.2.1 198.51.100.2 51234 443\r\n"
	// 0d 0a 0d 0a 00 0d 0a 51 55 49 54 0a 21 11 00 0c c0 00 02 01 c6 33 64 02 c8 22 01 bb
}
