package metricscheck

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evmetrics"
	"github.com/eddyloop/eddy/internal/testutil/metricstest"
)

// parse parses an exposition with expfmt's text parser, legacy names.
func parse(t *testing.T, text []byte) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		t.Fatalf("expfmt: %v\n%s", err, text)
	}
	return fams
}

// nasty are label values that need escaping, or replacing.
var nasty = []string{"", `"`, `\`, "\n", `a\"b`, "line\nbreak\\", "tab\tand space", "é 世界", "bad\xffutf8", `\\n`, "\x00\x01"}

// TestParseScrape scrapes a group of two loops serving HTTP, WebSocket
// and an echo listener (metricstest), with a collector whose labels need
// escaping, and parses the scrape with expfmt: every family parses, with its type and
// help, the label values read back as written, the histograms are
// cumulative, and the figures are those of the Stats methods.
func TestParseScrape(t *testing.T) {
	s := metricstest.Serve(t)
	s.Reg.AddCollector(func(w *evmetrics.Writer) {
		w.Family("test_escaped", evmetrics.Gauge, "Label values that need escaping: \\ \" and a\nnewline.")
		for i, v := range nasty {
			w.Uint("test_escaped", uint64(i), "value", v)
		}
	})
	s.Traffic(t)
	resp, body := s.Scrape(t)
	if ct := resp.Header.Get("Content-Type"); expfmt.ResponseFormat(resp.Header).FormatType() != expfmt.TypeTextPlain {
		t.Fatalf("Content-Type %q is not the text format's", ct)
	}
	fams := parse(t, body)

	types := map[string]dto.MetricType{
		"eddy_loop_iterations_total": dto.MetricType_COUNTER, "eddy_loop_wait_seconds_total": dto.MetricType_COUNTER,
		"eddy_loop_lag_seconds": dto.MetricType_HISTOGRAM, "eddy_http_requests_total": dto.MetricType_COUNTER,
		"eddy_http_request_duration_seconds": dto.MetricType_HISTOGRAM, "eddy_connections_open": dto.MetricType_GAUGE,
		"eddy_connections_accepted_total": dto.MetricType_COUNTER, "eddy_connections_closed_total": dto.MetricType_COUNTER,
		"eddy_received_bytes_total": dto.MetricType_COUNTER, "eddy_sent_bytes_total": dto.MetricType_COUNTER,
		"eddy_tls_handshakes_total": dto.MetricType_COUNTER, "eddy_tls_handshake_failures_total": dto.MetricType_COUNTER,
		"eddy_ws_upgrades_total": dto.MetricType_COUNTER, "eddy_ws_refused_total": dto.MetricType_COUNTER,
		"eddy_ws_open": dto.MetricType_GAUGE, "eddy_ws_failed_total": dto.MetricType_COUNTER,
		"test_escaped": dto.MetricType_GAUGE,
	}
	for name, typ := range types {
		f := fams[name]
		if f == nil {
			t.Errorf("no family %s", name)
			continue
		}
		if f.GetType() != typ || f.GetHelp() == "" {
			t.Errorf("%s: type %v, help %q; want %v and a help text", name, f.GetType(), f.GetHelp(), typ)
		}
	}
	if h := fams["test_escaped"].GetHelp(); h != "Label values that need escaping: \\ \" and a\nnewline." {
		t.Errorf("help read back as %q", h)
	}
	for _, m := range fams["test_escaped"].GetMetric() {
		i := int(m.GetGauge().GetValue())
		if got, want := m.GetLabel()[0].GetValue(), eachReplaced(nasty[i]); got != want {
			t.Errorf("label value %q read back as %q, want %q", nasty[i], got, want)
		}
	}
	if n := len(fams["eddy_loop_iterations_total"].GetMetric()); n != 2 {
		t.Errorf("%d loops' iterations, want 2", n)
	}
	for _, want := range []struct {
		name   string
		labels []string
		v      float64
	}{
		{"eddy_http_requests_total", []string{"server", "hello", "code", "2xx"}, 2},
		{"eddy_http_requests_total", []string{"server", "hello", "code", "4xx"}, 1},
		{"eddy_ws_refused_total", []string{"server", "ws"}, 1},
		{"eddy_connections_accepted_total", []string{"server", "echo"}, 1},
		{"eddy_received_bytes_total", []string{"server", "echo"}, 5},
		{"eddy_sent_bytes_total", []string{"server", "echo"}, 5},
		{"eddy_connections_open", []string{"server", "echo"}, 0},
	} {
		if got := value(fams, want.name, want.labels...); got != want.v {
			t.Errorf("%s%v = %v, want %v", want.name, want.labels, got, want.v)
		}
	}
	for _, name := range []string{"eddy_loop_lag_seconds", "eddy_http_request_duration_seconds"} {
		for _, m := range fams[name].GetMetric() {
			h := m.GetHistogram()
			var last uint64
			for _, b := range h.GetBucket() {
				if b.GetCumulativeCount() < last {
					t.Errorf("%s: buckets not cumulative: %v", name, h)
				}
				last = b.GetCumulativeCount()
			}
			if len(h.GetBucket()) != eddy.HistogramBuckets || h.GetSampleCount() != last {
				t.Errorf("%s: %d buckets, count %d, last bucket %d", name, len(h.GetBucket()), h.GetSampleCount(), last)
			}
		}
	}
	h := fams["eddy_http_request_duration_seconds"].GetMetric()[0].GetHistogram()
	if h.GetSampleCount() != 3 || h.GetBucket()[0].GetUpperBound() != 1e-6 {
		t.Errorf("request durations: %v", h)
	}
}

// value returns the value of the sample of family name whose labels
// include the pairs given, or -1.
func value(fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	f := fams[name]
	if f == nil {
		return -1
	}
next:
	for _, m := range f.GetMetric() {
		for i := 0; i < len(labels); i += 2 {
			found := false
			for _, l := range m.GetLabel() {
				if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.GetCounter() != nil:
			return m.GetCounter().GetValue()
		case m.GetGauge() != nil:
			return m.GetGauge().GetValue()
		}
	}
	return -1
}

// TestParseRandomLabels writes random label values, help texts and
// values, and reads them back with expfmt.
func TestParseRandomLabels(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 2026))
	alphabet := []string{"a", "Z", " ", `"`, `\`, "\n", "\t", "é", "世", "\xff", "\xc3", "n", "{", "}", "=", ",", "#"}
	str := func() string {
		var b strings.Builder
		for range r.IntN(12) {
			b.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		return b.String()
	}
	for range 200 {
		var w evmetrics.Writer
		help := str()
		values := []string{str(), str(), str()}
		v := r.NormFloat64() * 1e6
		w.Family("random_metric", evmetrics.Gauge, help)
		w.Value("random_metric", v, "a", values[0], "b", values[1], "c", values[2])
		fams := parse(t, w.Bytes())
		f := fams["random_metric"]
		if f == nil || len(f.GetMetric()) != 1 {
			t.Fatalf("%q: %v", w.Bytes(), fams)
		}
		// The parser skips the blanks before a help text (so does the
		// format: they separate it from the name).
		if got, want := f.GetHelp(), strings.TrimLeft(eachReplaced(help), " \t"); got != want {
			t.Errorf("help %q read back as %q", help, got)
		}
		m := f.GetMetric()[0]
		for i, l := range m.GetLabel() {
			if want := eachReplaced(values[i]); l.GetValue() != want {
				t.Errorf("label value %q read back as %q, want %q", values[i], l.GetValue(), want)
			}
		}
		if m.GetGauge().GetValue() != v {
			t.Errorf("value %v read back as %v", v, m.GetGauge().GetValue())
		}
	}
}

// eachReplaced replaces each byte of invalid UTF-8 with U+FFFD.
func eachReplaced(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteRune(r)
	}
	return b.String()
}
