package evmetrics_test

import (
	"math"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evmetrics"
)

func TestAppendLabel(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", `l=""`},
		{"plain", `l="plain"`},
		{`a"b`, `l="a\"b"`},
		{`a\b`, `l="a\\b"`},
		{"a\nb", `l="a\nb"`},
		{`\n`, `l="\\n"`},
		{"tab\there", "l=\"tab\there\""},
		{"héllo, 世界", `l="héllo, 世界"`},
		{"bad\xffutf8\xc3", "l=\"bad\uFFFDutf8\uFFFD\""},
		{"\x00", "l=\"\x00\""},
	} {
		if got := string(evmetrics.AppendLabel(nil, "l", tc.in)); got != tc.want {
			t.Errorf("AppendLabel(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestFamilyHelpEscaped(t *testing.T) {
	var w evmetrics.Writer
	w.Family("m", evmetrics.Counter, "a \"quoted\" \\ back\nslash")
	want := "# HELP m a \"quoted\" \\\\ back\\nslash\n# TYPE m counter\n"
	if got := string(w.Bytes()); got != want {
		t.Errorf("Family wrote %q, want %q", got, want)
	}
}

func TestAppendFloat(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		want string
	}{
		{0, "0"}, {1, "1"}, {0.5, "0.5"}, {1e-06, "1e-06"}, {4.194304, "4.194304"},
		{1 << 60, "1.152921504606847e+18"}, {math.Inf(1), "+Inf"}, {math.Inf(-1), "-Inf"}, {math.NaN(), "NaN"},
		{-2.5, "-2.5"},
	} {
		if got := string(evmetrics.AppendFloat(nil, tc.v)); got != tc.want {
			t.Errorf("AppendFloat(%v) = %s, want %s", tc.v, got, tc.want)
		}
	}
}

func TestValidName(t *testing.T) {
	for _, tc := range []struct {
		s             string
		metric, label bool
	}{
		{"eddy_loop_iterations_total", true, true}, {"a:b", true, false}, {"_x", true, true},
		{"__x", true, false}, {"0a", false, false}, {"a0", true, true}, {"", false, false},
		{"a-b", false, false}, {"é", false, false}, {"le", true, true},
	} {
		if got := evmetrics.ValidName(tc.s, true); got != tc.metric {
			t.Errorf("ValidName(%q, true) = %v", tc.s, got)
		}
		if got := evmetrics.ValidName(tc.s, false); got != tc.label {
			t.Errorf("ValidName(%q, false) = %v", tc.s, got)
		}
	}
}

func TestWriterPanics(t *testing.T) {
	for name, f := range map[string]func(w *evmetrics.Writer){
		"bad metric name": func(w *evmetrics.Writer) { w.Family("a-b", evmetrics.Gauge, "") },
		"bad label name":  func(w *evmetrics.Writer) { w.Uint("m", 1, "a b", "v") },
		"odd labels":      func(w *evmetrics.Writer) { w.Uint("m", 1, "a") },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f(new(evmetrics.Writer))
		}()
	}
}

func TestWriterHistogram(t *testing.T) {
	var h eddy.Histogram
	h.Counts[0], h.Counts[2], h.Counts[eddy.HistogramBuckets-1] = 1, 2, 3
	h.Sum = 1500 * time.Millisecond
	var w evmetrics.Writer
	w.Histogram("d", &h, "server", "x")
	lines := strings.Split(strings.TrimSuffix(string(w.Bytes()), "\n"), "\n")
	if len(lines) != eddy.HistogramBuckets+2 {
		t.Fatalf("%d lines:\n%s", len(lines), w.Bytes())
	}
	for i, want := range map[int]string{
		0:                         `d_bucket{server="x",le="1e-06"} 1`,
		1:                         `d_bucket{server="x",le="2e-06"} 1`,
		2:                         `d_bucket{server="x",le="4e-06"} 3`,
		eddy.HistogramBuckets - 2: `d_bucket{server="x",le="4.194304"} 3`,
		eddy.HistogramBuckets - 1: `d_bucket{server="x",le="+Inf"} 6`,
		eddy.HistogramBuckets:     `d_sum{server="x"} 1.5`,
		eddy.HistogramBuckets + 1: `d_count{server="x"} 6`,
	} {
		if lines[i] != want {
			t.Errorf("line %d = %s, want %s", i, lines[i], want)
		}
	}
}

// unescape undoes AppendLabel's escaping of a label value (without its
// quotes), as a parser of the format does.
func unescape(s string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\n':
			return "", false // must have been escaped
		case c != '\\':
			b.WriteByte(c)
		case i+1 == len(s):
			return "", false
		default:
			i++
			switch s[i] {
			case '\\':
				b.WriteByte('\\')
			case '"':
				b.WriteByte('"')
			case 'n':
				b.WriteByte('\n')
			default:
				return "", false
			}
		}
	}
	return b.String(), true
}

// FuzzAppendLabel: any value is written as valid UTF-8 with nothing left
// unescaped, and reads back as the value (invalid UTF-8 replaced).
func FuzzAppendLabel(f *testing.F) {
	for _, s := range []string{"", "a", `"`, `\`, "\n", `\"`, "a\\nb\"c", "\xff", "é\xc3", "\\\n\""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		out := string(evmetrics.AppendLabel(nil, "l", v))
		if !strings.HasPrefix(out, `l="`) || !strings.HasSuffix(out, `"`) || len(out) < 4 {
			t.Fatalf("AppendLabel(%q) = %q: not l=\"...\"", v, out)
		}
		if !utf8.ValidString(out) {
			t.Fatalf("AppendLabel(%q) = %q: invalid UTF-8", v, out)
		}
		got, ok := unescape(out[3 : len(out)-1])
		if !ok || got != replaceEach(v) {
			t.Fatalf("AppendLabel(%q) = %q, reads back as %q (%v)", v, out, got, ok)
		}
	})
}

// replaceEach replaces each byte of invalid UTF-8 with U+FFFD, as ranging
// over a string does.
func replaceEach(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteRune(r)
	}
	return b.String()
}
