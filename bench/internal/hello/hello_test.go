package hello

import (
	"strings"
	"testing"
)

func TestScan(t *testing.T) {
	get := "GET / HTTP/1.1\r\nHost: a\r\n\r\n"
	post := "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
	for i, c := range []struct {
		in      string
		n, used int
		bad     bool
	}{
		{"", 0, 0, false},
		{get[:10], 0, 0, false},
		{get, 1, len(get), false},
		{get + get + get[:5], 2, 2 * len(get), false},
		{strings.Repeat(get, 16), 16, 16 * len(get), false},
		{post, 1, len(post), false},
		{post[:len(post)-1], 0, 0, false},
		{post + get, 2, len(post) + len(get), false},
		{"GET / HTTP/1.1\r\ncontent-length: x\r\n\r\n", 0, 0, true},
		{get + strings.Repeat("a", MaxHead+1), 1, len(get), true},
	} {
		n, used, bad := Scan([]byte(c.in))
		if n != c.n || used != c.used || bad != c.bad {
			t.Errorf("case %d: Scan = %d, %d, %v; want %d, %d, %v", i, n, used, bad, c.n, c.used, c.bad)
		}
	}
}

func TestResponse(t *testing.T) {
	r := string(Response())
	if !strings.HasPrefix(r, "HTTP/1.1 200 OK\r\n") || !strings.HasSuffix(r, "\r\n\r\nHello, World!") ||
		!strings.Contains(r, "\r\nContent-Length: 13\r\n") || !strings.Contains(r, " GMT\r\n") {
		t.Errorf("response %q", r)
	}
	if got := string(Append([]byte("x"), 3)); got != "x"+r+r+r {
		t.Errorf("Append = %q", got)
	}
}
