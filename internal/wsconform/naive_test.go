package wsconform

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"
)

// naiveEcho serves WebSocket echo with the runner's own connection and
// none of the checks a peer must make: it echoes whatever messages it
// assembles (RSV bits, invalid UTF-8 and all), answers pings (oversized
// ones too) and closes (one-byte ones with an empty close). The runner
// must grade it OK where it echoes well and FAILED where it should
// have failed the connection.
func naiveEcho(t *testing.T) string {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.shutdown()
		n := 0
		for {
			ok := c.wait(time.Now().Add(5*time.Second), func() bool { return len(c.items) > n || c.ended() })
			items, ci, eof, _ := c.snapshot()
			for ; n < len(items); n++ {
				if it := items[n]; it.op != opPong {
					c.send(wf{fin: true, op: it.op, payload: it.data})
				}
			}
			if ci != nil || eof != nil || !ok {
				return
			}
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "ws://" + ln.Addr().String() + "/"
}

func TestGradesNaivePeer(t *testing.T) {
	want := map[string]Grade{
		"1.1.1": OK, "1.1.6": OK, "1.2.8": OK, "2.1": OK, "2.4": OK, "2.7": OK, "2.10": OK, "5.6": OK,
		"6.2.3": OK, "6.7.4": OK, "7.1.1": OK, "7.7.1": OK, "7.7.13": OK, "10.1.1": OK,
		"2.5":    Failed, // answered with a pong of 126 bytes
		"3.1":    Failed, // echoed a frame with RSV bits
		"4.1.1":  Failed, // ignored a reserved opcode
		"5.1":    Failed, // answered the first fragment of a fragmented ping
		"6.3.1":  Failed, // echoed invalid UTF-8
		"6.4.1":  Failed,
		"7.3.2":  Failed, // answered a one-byte close with an empty one
		"7.9.1":  Failed, // echoed close code 0
		"8.1":    Failed, // echoed an unmasked frame
		"8.5":    OK,
		"12.1.1": Unimplemented,
	}
	match := func(id string) bool { _, ok := want[id]; return ok }
	rep, err := RunClient(context.Background(), Config{URL: naiveEcho(t), Match: match, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != len(want) {
		t.Fatalf("%d results, want %d", len(rep.Results), len(want))
	}
	for _, r := range rep.Results {
		if r.Grade != want[r.ID] {
			t.Errorf("%s, want %s", r, want[r.ID])
		}
	}
	if len(rep.NotOK()) != 10 {
		t.Errorf("NotOK: %d results, want 10", len(rep.NotOK()))
	}
}
