package evclient

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

func TestClientParseURL(t *testing.T) {
	for _, tt := range []struct {
		in                                 string
		key, dial, authority, target, user string
	}{
		{"http://example.com", "example.com", "example.com:80", "example.com", "/", ""},
		{"http://example.com:80/a", "example.com", "example.com:80", "example.com:80", "/a", ""},
		{"HTTP://Example.COM:8080/A?b=C#frag", "example.com:8080", "example.com:8080", "example.com:8080", "/A?b=C", ""},
		{"http://127.0.0.1:8080?q", "127.0.0.1:8080", "127.0.0.1:8080", "127.0.0.1:8080", "/?q", ""},
		{"http://[::1]:8080/x", "[::1]:8080", "[::1]:8080", "[::1]:8080", "/x", ""},
		{"http://[::1]/x", "[::1]", "[::1]:80", "[::1]", "/x", ""},
		{"http://u%20ser:p@host/x", "host", "host:80", "host", "/x", "u ser:p"},
		{"http://host/a b/ü", "host", "host:80", "host", "/a%20b/%C3%BC", ""},
		{"https://example.com/a", "https://example.com", "example.com:443", "example.com", "/a", ""},
		{"HTTPS://Example.com:443", "https://example.com", "example.com:443", "example.com:443", "/", ""},
		{"https://example.com:80", "https://example.com:80", "example.com:80", "example.com:80", "/", ""},
		{"https://[::1]:8443/", "https://[::1]:8443", "[::1]:8443", "[::1]:8443", "/", ""},
	} {
		u, err := parseURL(tt.in)
		if err != nil {
			t.Errorf("parseURL(%q): %v", tt.in, err)
			continue
		}
		key := u.key.name
		if u.key.tls {
			key = "https://" + key
		}
		got := []string{key, u.dialAddr(), u.authority, u.target, u.userinfo}
		want := []string{tt.key, tt.dial, tt.authority, tt.target, tt.user}
		if strings.Join(got, " | ") != strings.Join(want, " | ") {
			t.Errorf("parseURL(%q) = %q, want %q", tt.in, got, want)
		}
	}
	for _, tt := range []struct {
		in   string
		want error
	}{
		{"ws://host/", ErrScheme},
		{"host/path", ErrURL},
		{"http://", ErrURL},
		{"http://:80/", ErrURL},
		{"http://host:0/", ErrURL},
		{"http://host:65536/", ErrURL},
		{"http://host:8x/", ErrURL},
		{"http://[::1/", ErrURL},
		{"http://[1.2.3.4]/", ErrURL},
		{"http://ho st/", ErrURL},
		{"http://host%41/", ErrURL},
	} {
		if _, err := parseURL(tt.in); !errors.Is(err, tt.want) {
			t.Errorf("parseURL(%q): %v, want %v", tt.in, err, tt.want)
		}
	}
}

// TestClientParseURLAllocs: a well-formed URL is cut, not copied.
func TestClientParseURLAllocs(t *testing.T) {
	for _, in := range []string{"http://example.com/path?q=1", "http://127.0.0.1:8080/x", "https://example.com/"} {
		if n := testing.AllocsPerRun(100, func() { parseURL(in) }); n != 0 {
			t.Errorf("parseURL(%q): %v allocations", in, n)
		}
	}
}

// FuzzClientParseURL checks that what parseURL accepts can be sent: a
// target in origin form without bytes a request line cannot hold, and the
// same host and port as net/url finds.
func FuzzClientParseURL(f *testing.F) {
	for _, s := range []string{"http://a/", "http://[::1]:1/x?y#z", "http://u:p@h:8/ü", "HTTP://H", "http://h?q"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := parseURL(s)
		if err != nil {
			return
		}
		if !strings.HasPrefix(u.target, "/") || u.key.name == "" || u.host == "" {
			t.Fatalf("parseURL(%q) = %+v", s, u)
		}
		for i := 0; i < len(u.target); i++ {
			if c := u.target[i]; c <= ' ' || c >= 0x7f {
				t.Fatalf("parseURL(%q): target %q", s, u.target)
			}
		}
		if p, err := url.Parse(s); err == nil && p.Opaque == "" && strings.EqualFold(p.Scheme, "http") {
			port := p.Port()
			if port == "" {
				port = "80"
			}
			if !strings.EqualFold(p.Hostname(), u.host) || port != u.port {
				t.Fatalf("parseURL(%q): host %q port %q, net/url %q %q", s, u.host, u.port, p.Hostname(), port)
			}
		}
	})
}
