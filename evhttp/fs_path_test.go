package evhttp

import "testing"

// TestCleanPath: the paths FileServer accepts, as they are cleaned, and
// those it refuses.
func TestCleanPath(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"/", "/", true},
		{"/a/b", "/a/b", true},
		{"/a/b/", "/a/b/", true},
		{"//a///b/./c", "/a/b/c", true},
		{"/a/.", "/a", true},
		{"/./", "/", true},
		{"/.", "/", true},
		{"//", "/", true},
		{"/.hidden", "/.hidden", true},
		{"/..x/x..", "/..x/x..", true},
		{"/a%20b", "/a b", true},
		{"/caf%C3%A9", "/café", true},
		{"/%2e/x", "/x", true},
		{"/a%2Eb", "/a.b", true},
		{"/%25", "/%", true},
		{"", "", false},
		{"a", "", false},
		{"*", "", false},
		{"/..", "", false},
		{"/../", "", false},
		{"/a/../b", "", false},
		{"/a/..", "", false},
		{"/%2e%2e/x", "", false},
		{"/%2E%2e", "", false},
		{"/.%2e/x", "", false},
		{"/a%2fb", "", false},
		{"/a%2Fb", "", false},
		{"/a%5cb", "", false},
		{"/a%5Cb", "", false},
		{"/a\\b", "", false},
		{"/a\x00b", "", false},
		{"/a%00", "", false},
		{"/a%", "", false},
		{"/a%4", "", false},
		{"/a%g0", "", false},
		{"/a%0g", "", false},
	} {
		scratch := make([]byte, 0, 4)
		_, got, ok := cleanPath(scratch, []byte(tc.in))
		if string(got) != tc.want || ok != tc.ok {
			t.Errorf("cleanPath(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// TestParseRange: Range fields, resolved against a size of 1000.
func TestParseRange(t *testing.T) {
	type r = byteRange
	for _, tc := range []struct {
		in   string
		want []byteRange
		ok   bool
	}{
		{"bytes=0-99", []r{{0, 100}}, true},
		{"bytes=-100", []r{{900, 100}}, true},
		{"bytes=-2000", []r{{0, 1000}}, true},
		{"bytes=900-", []r{{900, 100}}, true},
		{"bytes=999-999", []r{{999, 1}}, true},
		{"bytes=990-2000", []r{{990, 10}}, true},
		{"bytes=0-0,-1", []r{{0, 1}, {999, 1}}, true},
		{"bytes= 0-0 ,, 5-6 ", []r{{0, 1}, {5, 2}}, true},
		{"BYTES=1-2", []r{{1, 2}}, true},
		{"bytes=1000-", nil, true},
		{"bytes=1000-1001", nil, true},
		{"bytes=-0", nil, true},
		{"bytes=1000-,0-1", []r{{0, 2}}, true},
		{"bytes=", nil, false},
		{"bytes=5", nil, false},
		{"bytes=5-4", nil, false},
		{"bytes=a-b", nil, false},
		{"bytes=-", nil, false},
		{"bytes=1-2-3", nil, false},
		{"bytes 0-1", nil, false},
		{"items=0-1", nil, false},
		{"bytes=99999999999999999999-", nil, false},
	} {
		got, ok := parseRange(nil, []byte(tc.in), 1000)
		if ok != tc.ok || len(got) != len(tc.want) {
			t.Errorf("parseRange(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("parseRange(%q) = %v; want %v", tc.in, got, tc.want)
				break
			}
		}
	}
}
