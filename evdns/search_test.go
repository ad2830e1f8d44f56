package evdns

import (
	"reflect"
	"strings"
	"testing"
)

func TestCandidates(t *testing.T) {
	two := &Config{Search: []string{"corp.example.com", "example.com"}, Ndots: 1}
	ndots2 := &Config{Search: []string{"corp.example.com", "example.com"}, Ndots: 2}
	ndots0 := &Config{Search: []string{"corp.example.com"}, Ndots: 0}
	none := &Config{Ndots: 1}
	noTLD := &Config{Search: []string{"example.com"}, Ndots: 1, NoTLDQuery: true}
	long := strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) // 191
	longSearch := &Config{Search: []string{strings.Repeat("d", 61) + ".example", "ok.example"}, Ndots: 1}
	tests := []struct {
		name string
		in   string
		c    *Config
		want []string
	}{
		// res_search: fewer dots than ndots: search list first, as is last.
		{"single label", "www", two, []string{"www.corp.example.com.", "www.example.com.", "www."}},
		// At least ndots dots: as is first, then the search list.
		{"dotted", "www.eu", two, []string{"www.eu.", "www.eu.corp.example.com.", "www.eu.example.com."}},
		{"dotted below ndots", "www.eu", ndots2, []string{"www.eu.corp.example.com.", "www.eu.example.com.", "www.eu."}},
		{"dotted at ndots", "a.b.c", ndots2, []string{"a.b.c.", "a.b.c.corp.example.com.", "a.b.c.example.com."}},
		// A trailing dot makes the name absolute: no search at all.
		{"absolute", "www.example.org.", two, []string{"www.example.org."}},
		{"absolute single label", "www.", two, []string{"www."}},
		{"root", ".", two, []string{"."}},
		// ndots:0: even a single label is tried as is first.
		{"ndots 0", "www", ndots0, []string{"www.", "www.corp.example.com."}},
		{"no search list", "www", none, []string{"www."}},
		{"no search list dotted", "www.example.com", none, []string{"www.example.com."}},
		// no-tld-query: a single label is never tried as a TLD.
		{"no-tld-query", "www", noTLD, []string{"www.example.com."}},
		{"no-tld-query dotted", "a.b", noTLD, []string{"a.b.", "a.b.example.com."}},
		// The case of the name is kept.
		{"case", "WWW", two, []string{"WWW.corp.example.com.", "WWW.example.com.", "WWW."}},
		// Names that are too long with a suffix skip that suffix only.
		{"too long with a suffix", long, longSearch, []string{long + ".", long + ".ok.example."}},
		// Invalid names give nothing.
		{"empty", "", two, nil},
		{"empty label", "a..b", two, nil},
		{"leading dot", ".a", two, nil},
		{"two dots", "..", two, nil},
		{"label too long", strings.Repeat("x", 64), two, nil},
		{"absolute too long", strings.Repeat("a.", 127) + "a.", two, nil},
		{"relative too long", strings.Repeat("a.", 127) + "a", two, nil},
		{"absolute longest", strings.Repeat("a.", 126) + "a.", two, []string{strings.Repeat("a.", 126) + "a."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Candidates(tt.in, tt.c)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Candidates(%q, %+v)\n got %q\nwant %q", tt.in, tt.c, got, tt.want)
			}
			for _, n := range got {
				if len(n) > MaxNameLen {
					t.Errorf("candidate of %d bytes", len(n))
				}
			}
		})
	}
}

func TestCandidatesNilConfig(t *testing.T) {
	if got, want := Candidates("www", nil), []string{"www."}; !reflect.DeepEqual(got, want) {
		t.Errorf("Candidates(www, nil) = %q, want %q", got, want)
	}
}

func TestCandidatesFromResolvConf(t *testing.T) {
	c, err := ParseResolvConf([]byte("domain Example.COM.\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := Candidates("host", c), []string{"host.example.com.", "host."}; !reflect.DeepEqual(got, want) {
		t.Errorf("Candidates(host) with domain line = %q, want %q", got, want)
	}
}

func BenchmarkCandidates(b *testing.B) {
	c, _ := ParseResolvConf([]byte(typicalResolvConf))
	b.ReportAllocs()
	for b.Loop() {
		Candidates("www", c)
	}
}
