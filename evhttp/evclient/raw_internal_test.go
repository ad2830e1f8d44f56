package evclient

import "testing"

// TestCheckRawVerbatim: checkRaw lets appendHead copy a RawHeader whole
// only when it starts with its Host field and every line is one that
// appendFields would write as it is (TestRawHeaderVerbatim checks that the
// heads are the same either way).
func TestCheckRawVerbatim(t *testing.T) {
	for _, tt := range []struct {
		raw          string
		verbatim, ua bool
	}{
		{"Host: h\r\n", true, false},
		{"Host: h\r\nX-A: 1\r\nUser-Agent: ua\r\nX-B: \r\n", true, true},
		{"Host: h\r\nAuthorization: x\r\n", true, false},
		{"", false, false},
		{"X-A: 1\r\n", false, false},
		{"X-A: 1\r\nHost: h\r\n", false, false},
		{"Host: h\n", false, false},
		{"Host: h", false, false},
		{"Host:h\r\n", false, false},
		{"Host: h \r\n", false, false},
		{"Host: h\r\nX-A:  1\r\n", false, false},
		{"Host: h\r\nUser-Agent: \r\n", false, false},
		{"Host: h\r\nExpect: 100-continue\r\n", false, false},
		{"Host: h\r\nContent-Length: 1\r\n", false, false},
		{"Host: h\r\nTransfer-Encoding: chunked\r\n", false, false},
		{"Host: h\r\nTrailer: x\r\n", false, false},
	} {
		call := &Call{req: Request{RawHeader: []byte(tt.raw)}}
		var connUpgrade bool
		if _, err := call.checkRaw(&connUpgrade); err != nil {
			t.Fatalf("%q: %v", tt.raw, err)
		}
		if call.rawVerbatim != tt.verbatim || call.rawVerbatim && call.rawUA != tt.ua {
			t.Errorf("%q: verbatim %v (User-Agent %v), want %v (%v)", tt.raw, call.rawVerbatim, call.rawUA, tt.verbatim, tt.ua)
		}
	}
}

// FuzzRawHeader: checkRaw takes any bytes without panicking, and when it
// lets appendHead copy them whole, the copy is what appendFields writes
// field by field, with the same User-Agent and Authorization found.
func FuzzRawHeader(f *testing.F) {
	for _, s := range []string{
		"Host: h\r\nX-A: 1\r\nUser-Agent: ua\r\n",
		"Host: h\r\nAuthorization: Basic x\r\nX: \r\n",
		"X-A: 1\r\nHost: h\r\n",
		"Host: h\r\nX-A:1\n",
		"Host: h\r\n X-A: 1\r\n",
		"Host: h\r\nHost: i\r\n",
		"Host: h\r\nConnection: close, upgrade\r\nUpgrade: websocket\r\n",
		"Host: h\r\nExpect: 100-continue\r\n",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		call := &Call{req: Request{RawHeader: raw}}
		var connUpgrade bool
		if _, err := call.checkRaw(&connUpgrade); err != nil || !call.rawVerbatim {
			return
		}
		got := string(raw)
		want, ua, auth := call.appendFields(nil)
		if got != string(want) || ua != call.rawUA || auth != call.rawAuth {
			t.Errorf("RawHeader %q copied whole (User-Agent %v, Authorization %v), field by field %q (%v, %v)",
				raw, call.rawUA, call.rawAuth, want, ua, auth)
		}
	})
}
