package ascii

import (
	"strings"
	"testing"
)

func TestEqualFold(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"", "", true},
		{"Content-Length", "content-length", true},
		{"CONTENT-LENGTH", "content-length", true},
		{"Content-Length", "Content-Lengt", false},
		{"k", "\u212a", false}, // the Kelvin sign folds to k only under Unicode rules
		{"a[", "A{", false},    // '[' and '{' differ by the case bit but are not letters
		{"@", "`", false},
	} {
		if got := EqualFold(tc.a, tc.b); got != tc.want {
			t.Errorf("EqualFold(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
		if got := EqualFold([]byte(tc.a), tc.b); got != tc.want {
			t.Errorf("EqualFold([]byte(%q), %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestToLower(t *testing.T) {
	for _, s := range []string{"", "example.com", "ExAmple.COM", "\u00c9A"} {
		want := strings.Map(func(r rune) rune {
			if 'A' <= r && r <= 'Z' {
				return r + 'a' - 'A'
			}
			return r
		}, s)
		if got := ToLower(s); got != want {
			t.Errorf("ToLower(%q) = %q, want %q", s, got, want)
		}
	}
	s := "already.lower"
	if n := testing.AllocsPerRun(10, func() { _ = ToLower(s) }); n != 0 {
		t.Errorf("ToLower of a lower-case string allocates %v times", n)
	}
}

func FuzzEqualFold(f *testing.F) {
	f.Add("Connection", "connection")
	f.Add("\u212a", "k")
	f.Fuzz(func(t *testing.T, a, b string) {
		want := ToLower(a) == ToLower(b)
		if got := EqualFold(a, b); got != want {
			t.Fatalf("EqualFold(%q, %q) = %v, ToLower says %v", a, b, got, want)
		}
	})
}
