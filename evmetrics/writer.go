package evmetrics

// The Prometheus text exposition format, version 0.0.4, written by hand:
// family headers (HELP, TYPE), samples with escaped labels, histograms.

import (
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/eddyloop/eddy"
)

// ContentType is the Content-Type of the text exposition format.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// Type is the type of a metric family, as its TYPE line says.
type Type string

// The types of metric families.
const (
	Counter   Type = "counter"
	Gauge     Type = "gauge"
	Histogram Type = "histogram"
	Untyped   Type = "untyped"
)

// Writer appends metric families in the text exposition format to a
// buffer. Each family is a Family call followed by its samples (Value,
// Uint, Histogram), all of them before the next family: the format wants
// a family's samples together, under one HELP and one TYPE line. Labels
// are given as pairs, name then value ("loop", "0", "server", "http");
// values are escaped as the format says (backslash, double quote,
// newline; invalid UTF-8 becomes U+FFFD), names are the program's and must
// be valid. A Writer is not safe for concurrent use; the zero value is
// ready.
type Writer struct {
	b []byte
}

// Bytes returns what was written so far; it is valid until the next call
// of the Writer's methods.
func (w *Writer) Bytes() []byte { return w.b }

// Reset empties the Writer, keeping its buffer.
func (w *Writer) Reset() { w.b = w.b[:0] }

// Family starts the family name, of type typ, with its HELP text. It
// panics if name is not a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*).
func (w *Writer) Family(name string, typ Type, help string) {
	mustName(name, true)
	w.b = append(w.b, "# HELP "...)
	w.b = append(w.b, name...)
	w.b = append(w.b, ' ')
	w.b = appendEscaped(w.b, help, false)
	w.b = append(w.b, "\n# TYPE "...)
	w.b = append(w.b, name...)
	w.b = append(w.b, ' ')
	w.b = append(w.b, typ...)
	w.b = append(w.b, '\n')
}

// Value writes the sample name{labels} v.
func (w *Writer) Value(name string, v float64, labels ...string) {
	w.sampleName(name, "", labels, "")
	w.b = AppendFloat(w.b, v)
	w.b = append(w.b, '\n')
}

// Uint writes the sample name{labels} v, an integer: exact, where a
// float64 would round counts above 2⁵³.
func (w *Writer) Uint(name string, v uint64, labels ...string) {
	w.sampleName(name, "", labels, "")
	w.b = strconv.AppendUint(w.b, v, 10)
	w.b = append(w.b, '\n')
}

// Histogram writes h, a histogram of durations, as the samples of the
// histogram family name, in seconds: name_bucket{labels,le="..."} for each
// bucket (cumulative, the last le="+Inf"), name_sum and name_count.
func (w *Writer) Histogram(name string, h *eddy.Histogram, labels ...string) {
	var cum uint64
	for i, c := range h.Counts {
		cum += c
		w.sampleName(name, "_bucket", labels, bucketLabels[i])
		w.b = strconv.AppendUint(w.b, cum, 10)
		w.b = append(w.b, '\n')
	}
	w.sampleName(name, "_sum", labels, "")
	w.b = AppendFloat(w.b, h.Sum.Seconds())
	w.b = append(w.b, "\n"...)
	w.sampleName(name, "_count", labels, "")
	w.b = strconv.AppendUint(w.b, cum, 10)
	w.b = append(w.b, '\n')
}

// bucketLabels are the le label values of the buckets of eddy.Histogram,
// in seconds.
var bucketLabels = func() (le [eddy.HistogramBuckets]string) {
	for i := range le {
		le[i] = "+Inf"
		if i < eddy.HistogramBuckets-1 {
			le[i] = string(AppendFloat(nil, eddy.HistogramBound(i).Seconds()))
		}
	}
	return le
}()

// sampleName appends name, suffix and the labels, with le last if not
// empty, and the space before the value.
func (w *Writer) sampleName(name, suffix string, labels []string, le string) {
	if len(labels)%2 != 0 {
		panic("evmetrics: labels must come in pairs, name and value")
	}
	w.b = append(w.b, name...)
	w.b = append(w.b, suffix...)
	if len(labels) > 0 || le != "" {
		w.b = append(w.b, '{')
		for i := 0; i < len(labels); i += 2 {
			mustName(labels[i], false)
			if i > 0 {
				w.b = append(w.b, ',')
			}
			w.b = AppendLabel(w.b, labels[i], labels[i+1])
		}
		if le != "" {
			if len(labels) > 0 {
				w.b = append(w.b, ',')
			}
			w.b = AppendLabel(w.b, "le", le)
		}
		w.b = append(w.b, '}')
	}
	w.b = append(w.b, ' ')
}

// AppendLabel appends name="value" to b, the value escaped: a backslash
// as \\, a double quote as \", a newline as \n, and each byte of invalid
// UTF-8 as U+FFFD.
func AppendLabel(b []byte, name, value string) []byte {
	b = append(b, name...)
	b = append(b, '=', '"')
	b = appendEscaped(b, value, true)
	return append(b, '"')
}

// appendEscaped appends s escaped for a label value (quote true) or a
// HELP text (quote false: double quotes stay as they are).
func appendEscaped(b []byte, s string, quote bool) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '\\':
				b = append(b, '\\', '\\')
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '"' && quote:
				b = append(b, '\\', '"')
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b = utf8.AppendRune(b, utf8.RuneError)
		} else {
			b = append(b, s[i:i+n]...)
		}
		i += n
	}
	return b
}

// AppendFloat appends v as the format writes a value: the shortest
// decimal that reads back as v, or +Inf, -Inf, NaN.
func AppendFloat(b []byte, v float64) []byte {
	switch {
	case math.IsInf(v, 1):
		return append(b, "+Inf"...)
	case math.IsInf(v, -1):
		return append(b, "-Inf"...)
	case math.IsNaN(v):
		return append(b, "NaN"...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

// ValidName reports whether s is a valid metric name
// ([a-zA-Z_:][a-zA-Z0-9_:]*), or, with metric false, a valid label name
// ([a-zA-Z_][a-zA-Z0-9_]*, not starting with two underscores, which
// Prometheus reserves).
func ValidName(s string, metric bool) bool {
	if s == "" || !metric && len(s) >= 2 && s[0] == '_' && s[1] == '_' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || metric && c == ':' || i > 0 && c >= '0' && c <= '9'
		if !ok {
			return false
		}
	}
	return true
}

func mustName(s string, metric bool) {
	if !ValidName(s, metric) {
		panic("evmetrics: invalid name " + strconv.Quote(s))
	}
}
