package evdns

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func addrs(ss ...string) []netip.Addr {
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParseAddr(s)
	}
	return out
}

const testHosts = `# /etc/hosts
127.0.0.1	localhost
127.0.1.1	Box.Lab.Example.com box
::1		localhost ip6-localhost ip6-loopback   # IPv6
fe80::1%lo	link-local
192.0.2.10 web.example.com. www.example.com # trailing dot
192.0.2.11 web.example.com
192.0.2.10 WEB.example.com alias.example.com
::ffff:198.51.100.1 mapped.example
not-an-address bogus.example
10.0.0.1
10.0.0.2 a..b good.example ` + "\r" + `
`

func TestHostsLookup(t *testing.T) {
	h, err := ParseHosts([]byte(testHosts))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		want []netip.Addr
	}{
		{"localhost", addrs("127.0.0.1", "::1")},
		{"LOCALHOST.", addrs("127.0.0.1", "::1")},
		{"box", addrs("127.0.1.1")},
		{"box.lab.example.com", addrs("127.0.1.1")},
		{"ip6-loopback", addrs("::1")},
		{"link-local", addrs("fe80::1%lo")},
		{"web.example.com", addrs("192.0.2.10", "192.0.2.11")},
		{"www.example.com.", addrs("192.0.2.10")},
		{"alias.example.com", addrs("192.0.2.10")},
		{"mapped.example", addrs("198.51.100.1")},
		{"good.example", addrs("10.0.0.2")},
		{"bogus.example", nil},
		{"a..b", nil},
		{"missing", nil},
		{"", nil},
		{".", nil},
		{strings.Repeat("a", 300), nil},
	}
	for _, tt := range tests {
		if got := h.Lookup(tt.name); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Lookup(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
	if n := h.Len(); n != 11 {
		t.Errorf("Len() = %d, want 11", n)
	}
}

func TestHostsReverse(t *testing.T) {
	h, err := ParseHosts([]byte(testHosts))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		addr string
		want []string
	}{
		{"127.0.0.1", []string{"localhost"}},
		{"127.0.1.1", []string{"Box.Lab.Example.com", "box"}},
		{"::1", []string{"localhost", "ip6-localhost", "ip6-loopback"}},
		{"192.0.2.10", []string{"web.example.com", "www.example.com", "alias.example.com"}},
		{"198.51.100.1", []string{"mapped.example"}},
		{"::ffff:198.51.100.1", []string{"mapped.example"}},
		{"fe80::1%lo", []string{"link-local"}},
		{"fe80::1", nil},
		{"10.0.0.1", nil},
		{"192.0.2.99", nil},
	}
	for _, tt := range tests {
		if got := h.Reverse(netip.MustParseAddr(tt.addr)); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Reverse(%s) = %q, want %q", tt.addr, got, tt.want)
		}
	}
	if got := h.Reverse(netip.Addr{}); got != nil {
		t.Errorf("Reverse(zero Addr) = %q, want nil", got)
	}
}

func TestHostsNil(t *testing.T) {
	var h *Hosts
	if h.Lookup("localhost") != nil || h.Reverse(netip.MustParseAddr("::1")) != nil || h.Len() != 0 {
		t.Error("a nil *Hosts is not empty")
	}
	empty, err := ParseHosts(nil)
	if err != nil || empty.Lookup("localhost") != nil || empty.Len() != 0 {
		t.Errorf("ParseHosts(nil) = %v, %v; want an empty table", empty, err)
	}
}

func TestHostsSharedSliceAppend(t *testing.T) {
	h, _ := ParseHosts([]byte("192.0.2.1 a\n192.0.2.2 a\n192.0.2.3 a\n"))
	got := h.Lookup("a")
	_ = append(got, netip.MustParseAddr("10.9.9.9"))
	if want := addrs("192.0.2.1", "192.0.2.2", "192.0.2.3"); !reflect.DeepEqual(h.Lookup("a"), want) {
		t.Errorf("append to Lookup's result changed the table: %v", h.Lookup("a"))
	}
}

func TestParseHostsTooLarge(t *testing.T) {
	if _, err := ParseHosts(make([]byte, MaxHostsBytes+1)); !errors.Is(err, ErrHostsTooLarge) {
		t.Fatalf("ParseHosts(too large) error %v, want ErrHostsTooLarge", err)
	}
}

func TestReadHosts(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "hosts")
	if err := os.WriteFile(path, []byte("192.0.2.5 five\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h, err := ReadHosts(path)
	if err != nil || !reflect.DeepEqual(h.Lookup("five"), addrs("192.0.2.5")) {
		t.Errorf("ReadHosts(%s) = %v, %v", path, h, err)
	}
	h, err = ReadHosts(filepath.Join(dir, "missing"))
	if err != nil || h == nil || h.Len() != 0 {
		t.Errorf("ReadHosts(missing) = %v, %v; want an empty table, nil", h, err)
	}
	if _, err := ReadHosts(dir); err == nil {
		t.Error("ReadHosts(directory) did not fail")
	}
}

func TestHostsLookupAllocs(t *testing.T) {
	h, _ := ParseHosts([]byte(testHosts))
	for _, name := range []string{"localhost", "Box.Lab.Example.COM.", "missing"} {
		if n := testing.AllocsPerRun(100, func() { h.Lookup(name) }); n > 0 {
			t.Errorf("Lookup(%q) allocates %v times, want 0", name, n)
		}
	}
	a := netip.MustParseAddr("::1")
	if n := testing.AllocsPerRun(100, func() { h.Reverse(a) }); n > 0 {
		t.Errorf("Reverse allocates %v times, want 0", n)
	}
}

func FuzzParseHosts(f *testing.F) {
	f.Add([]byte(testHosts))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := ParseHosts(data)
		if err != nil {
			if len(data) <= MaxHostsBytes {
				t.Fatalf("error %v for %d bytes", err, len(data))
			}
			return
		}
		for name, as := range h.byName {
			if !validDomain(name) || normalizeName(name) != name {
				t.Errorf("name %q not normalised", name)
			}
			if len(as) == 0 {
				t.Errorf("name %q has no addresses", name)
			}
			if upper := upperASCII(name) + "."; !reflect.DeepEqual(h.Lookup(upper), as) {
				t.Errorf("Lookup(%q) = %v, want %v", upper, h.Lookup(upper), as)
			}
			for i, a := range as {
				if !a.IsValid() || a.Is4In6() {
					t.Errorf("name %q has address %v", name, a)
				}
				for _, b := range as[:i] {
					if a == b {
						t.Errorf("name %q lists %v twice", name, a)
					}
				}
				found := false
				for _, n := range h.Reverse(a) {
					if normalizeName(n) == name {
						found = true
					}
				}
				if !found {
					t.Errorf("Reverse(%v) = %q lacks %q", a, h.Reverse(a), name)
				}
			}
		}
		for a, names := range h.byAddr {
			for _, n := range names {
				if strings.HasSuffix(n, ".") || !validDomain(normalizeName(n)) {
					t.Errorf("address %v has name %q", a, n)
				}
				if !containsAddr(h.Lookup(n), a) {
					t.Errorf("Lookup(%q) = %v lacks %v", n, h.Lookup(n), a)
				}
			}
		}
	})
}

// upperASCII is strings.ToUpper for ASCII letters only: it leaves
// invalid UTF-8 alone.
func upperASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - ('a' - 'A')
		}
	}
	return string(b)
}

func containsAddr(as []netip.Addr, a netip.Addr) bool {
	for _, b := range as {
		if a == b {
			return true
		}
	}
	return false
}

func BenchmarkHostsLookup(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(testHosts)
	for i := range 1000 {
		sb.WriteString("10.1." + strconv.Itoa(i/256) + "." + strconv.Itoa(i%256) + " host" + strconv.Itoa(i) + ".example.com host" + strconv.Itoa(i) + "\n")
	}
	h, err := ParseHosts([]byte(sb.String()))
	if err != nil {
		b.Fatal(err)
	}
	for _, name := range []string{"host500.example.com", "Host500.Example.COM."} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if len(h.Lookup(name)) != 1 {
					b.Fatal("not found")
				}
			}
		})
	}
}
