package h1

import (
	"bytes"
	"testing"
)

// The fuzz targets check that no input panics, that splitting the input in
// two at a fuzz-chosen point (and, for short inputs, into single bytes)
// gives the same result as the whole, and that what is accepted satisfies
// the grammar. Their seed corpora are the table tests plus the files under
// testdata/fuzz.

// fuzzLimits returns the default limits, or small ones that the fuzzer can
// reach, so that the limit paths are split-tested too.
func fuzzLimits(small bool) Limits {
	if small {
		return Limits{MaxRequestLine: 40, MaxHeaderBytes: 120, MaxHeaders: 4, MaxBodyBytes: 64, MaxChunkLine: 24}
	}
	return Limits{}
}

func checkFuzzSplits(t *testing.T, data []byte, cut uint, method string, lim Limits) {
	in := string(data)
	want := drive(whole(in), method, lim)
	i := int(cut % uint(len(in)+1))
	if got := drive(splitAt(in, i), method, lim); !sameOutcome(got, want) {
		t.Fatalf("split at %d of %q:\n got %v\nwant %v", i, in, got, want)
	}
	if len(in) <= 512 {
		if got := drive(bytewise(in), method, lim); !sameOutcome(got, want) {
			t.Fatalf("bytewise split of %q:\n got %v\nwant %v", in, got, want)
		}
	}
}

func addRequestSeeds(f *testing.F) {
	for _, tt := range requestErrorTests {
		if len(tt.in) < 4096 {
			f.Add([]byte(tt.in), uint(len(tt.in)/2), tt.lim != Limits{})
		}
	}
	for _, s := range requestStreams {
		f.Add([]byte(s.in), uint(len(s.in)/3), false)
	}
	f.Add([]byte(wrkRequest), uint(17), false)
}

func FuzzRequest(f *testing.F) {
	addRequestSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte, cut uint, small bool) {
		lim := fuzzLimits(small)
		checkFuzzSplits(t, data, cut, "", lim)

		// What is accepted follows the grammar.
		var p Parser
		p.Limits = &lim
		var r Request
		n, err := p.ParseRequest(data, &r)
		if err != nil {
			if n != 0 {
				t.Fatalf("n = %d with error %v", n, err)
			}
			if err != ErrNeedMore && Status(err) < 400 {
				t.Fatalf("error %v has status %d", err, Status(err))
			}
			return
		}
		if n <= 0 || n > len(data) || !bytes.HasSuffix(data[:n], []byte("\r\n\r\n")) {
			t.Fatalf("head length %d does not end in an empty line: %q", n, data[:n])
		}
		if !isToken(r.Method) || len(r.Target) == 0 || r.Minor < 0 || r.Minor > 1 {
			t.Fatalf("bad request line: %s", summarizeRequest(&r))
		}
		for _, c := range r.Target {
			if c <= ' ' || c >= 0x7f {
				t.Fatalf("bad target %q", r.Target)
			}
		}
		for _, h := range r.Headers {
			if !isToken(h.Name) || !ValidFieldValue(string(h.Value)) || len(TrimOWS(h.Value)) != len(h.Value) {
				t.Fatalf("bad field %q: %q", h.Name, h.Value)
			}
		}
		if r.Chunked && r.ContentLength >= 0 || r.Minor == 1 && r.Host == nil {
			t.Fatalf("bad framing: %s", summarizeRequest(&r))
		}
	})
}

func FuzzResponse(f *testing.F) {
	for _, s := range responseStreams {
		f.Add([]byte(s.in), uint(len(s.in)/2), uint8(len(s.name)), false)
	}
	for _, tt := range responseErrorTests {
		f.Add([]byte(tt.in), uint(len(tt.in)/2), uint8(0), false)
	}
	f.Fuzz(func(t *testing.T, data []byte, cut uint, sel uint8, small bool) {
		method := fuzzMethods[int(sel)%len(fuzzMethods)]
		lim := fuzzLimits(small)
		checkFuzzSplits(t, data, cut, method, lim)

		var p Parser
		p.Limits = &lim
		var r Response
		buf := append([]byte(nil), data...)
		if _, err := p.ParseResponse(buf, method, &r); err != nil {
			return
		}
		if r.Status < 100 || r.Status > 999 || r.Minor < 0 || r.Minor > 1 {
			t.Fatalf("bad status line: %s", summarizeResponse(&r))
		}
		kinds := 0
		for _, k := range []bool{r.NoBody, r.Chunked, r.UntilEOF, !r.NoBody && !r.Chunked && !r.UntilEOF && r.ContentLength >= 0} {
			if k {
				kinds++
			}
		}
		if kinds != 1 || r.UntilEOF && !r.Close {
			t.Fatalf("bad framing: %s", summarizeResponse(&r))
		}
		for _, h := range r.Headers {
			if !isToken(h.Name) || !ValidFieldValue(string(h.Value)) {
				t.Fatalf("bad field %q: %q", h.Name, h.Value)
			}
		}
	})
}

var fuzzMethods = []string{"GET", "HEAD", "POST", "CONNECT"}

func FuzzChunked(f *testing.F) {
	for _, tt := range chunkedTests {
		if len(tt.in) < 4096 {
			f.Add([]byte(tt.in), uint(len(tt.in)/2), tt.fold, tt.lim != Limits{})
		}
	}
	f.Add(chunkedInput(), uint(1030), false, false)
	f.Fuzz(func(t *testing.T, data []byte, cut uint, fold, small bool) {
		lim := fuzzLimits(small)
		decode := func(chunks [][]byte) bodyOutcome {
			b := Body{Limits: lim}
			b.Reset(-1, true)
			b.fold = fold
			return decodeBody(&b, chunks)
		}
		in := string(data)
		want := decode(whole(in))
		i := int(cut % uint(len(in)+1))
		if got := decode(splitAt(in, i)); got != want {
			t.Fatalf("split at %d of %q:\n got %v\nwant %v", i, in, got, want)
		}
		if len(in) <= 1024 {
			if got := decode(bytewise(in)); got != want {
				t.Fatalf("bytewise split of %q:\n got %v\nwant %v", in, got, want)
			}
		}
		if want.err != nil {
			return
		}
		// Re-encoding what was decoded decodes to the same thing.
		b := Body{Limits: lim}
		b.Reset(-1, true)
		b.fold = fold
		var trailers Headers
		var buf []byte
		rest := []byte(in)
		for {
			n, p, done, err := b.Decode(rest)
			if err != nil {
				t.Fatalf("second decode: %v", err)
			}
			buf = AppendChunk(buf, p)
			rest = rest[n:]
			if done {
				trailers = b.Trailers
				break
			}
		}
		buf = AppendLastChunk(buf, trailers)
		if again := decode(whole(string(buf))); again.err != nil || again.payload != want.payload || again.trailers != want.trailers {
			t.Fatalf("re-encoded %q as %q: got %v, want %v", in, buf, again, want)
		}
	})
}
