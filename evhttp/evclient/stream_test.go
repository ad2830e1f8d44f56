package evclient_test

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evhttp/evclient"
)

func TestClientChunkedUpload(t *testing.T) {
	leakCheck(t)
	srv := newCountingServer(t, http.HandlerFunc(echoHandler))
	rl := startLoop(t)
	c := newClient(t, rl, nil)
	const total = 6 << 20
	data := pattern(total, 7)
	early := 1000 // written before the connection is ready
	off := early
	var writes, fullStops int
	var body bytes.Buffer
	ch := make(chan error, 1)
	rl.Post(func() {
		call := c.Stream(&evclient.Request{Method: "PUT", URL: srv.URL + "/up?slow=1", StreamBody: true}, evclient.Handler{
			OnWrite: func(call *evclient.Call) {
				for off < total {
					if call.Full() {
						fullStops++
						return
					}
					n := min(total-off, 1+int(uint(off*7919)%(48<<10)))
					if _, err := call.Write(data[off : off+n]); err != nil {
						t.Errorf("Write: %v", err)
						return
					}
					writes++
					off += n
				}
				call.CloseBody()
			},
			OnBody: func(_ *evclient.Call, p []byte) { body.Write(p) },
			OnDone: func(_ *evclient.Call, err error) { ch <- err },
		})
		if _, err := call.Write(data[:early]); err != nil {
			t.Errorf("early Write: %v", err)
		}
	})
	if err := <-ch; err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(srv.URL, "http://")
	want := fmt.Sprintf("PUT /up?slow=1 host=%s ua=%s len=%d sum=%s te=[chunked] expect=", host, evclient.DefaultUserAgent, total, digest(data))
	if body.String() != want {
		t.Errorf("got %q, want %q", body.String(), want)
	}
	if fullStops == 0 {
		t.Errorf("the producer never saw Full in %d writes", writes)
	}
}

func TestClientLargeResponse(t *testing.T) {
	leakCheck(t)
	data := pattern(8<<20, 3)
	srv := newCountingServer(t, bigHandler(data))
	rl := startLoop(t)
	c := newClient(t, rl, nil)
	for _, mode := range []string{"length", "chunked"} {
		t.Run(mode, func(t *testing.T) {
			url := srv.URL + "/big"
			if mode == "chunked" {
				url += "?chunked=1"
			}
			// Gathered whole.
			resp := mustGet(t, rl, c, url)
			if len(resp.Body) != len(data) || !bytes.Equal(resp.Body, data) {
				t.Fatalf("Do: %d bytes, want %d (equal %v)", len(resp.Body), len(data), bytes.Equal(resp.Body, data))
			}
			// Streamed, pausing every 512 KiB for 2 ms.
			var got bytes.Buffer
			var paused bool
			var pauses, whilePaused int
			var resume eddy.Timer
			ch := make(chan error, 1)
			rl.Post(func() {
				var call *evclient.Call
				resume.Init(func(*eddy.Timer) { paused = false; call.ResumeRead() }, 2*time.Millisecond, 0)
				call = c.Stream(&evclient.Request{URL: url}, evclient.Handler{
					OnResponse: func(call *evclient.Call, resp *evclient.Response) {
						if resp.Status != 200 {
							t.Errorf("status %d", resp.Status)
						}
					},
					OnBody: func(call *evclient.Call, p []byte) {
						if paused {
							whilePaused++
						}
						before := got.Len()
						got.Write(p)
						if got.Len()/(512<<10) != before/(512<<10) {
							paused = true
							pauses++
							call.PauseRead()
							resume.Start(rl.Loop)
						}
					},
					OnDone: func(_ *evclient.Call, err error) { resume.Stop(); ch <- err },
				})
			})
			if err := <-ch; err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), data) {
				t.Fatalf("Stream: %d bytes, want %d", got.Len(), len(data))
			}
			if pauses < 10 || whilePaused != 0 {
				t.Errorf("%d pauses, %d deliveries while paused", pauses, whilePaused)
			}
		})
	}
	if st := stats(rl, c); st.Dials != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestClientBodyLimit(t *testing.T) {
	leakCheck(t)
	data := pattern(100<<10, 1)
	srv := newCountingServer(t, bigHandler(data))
	rl := startLoop(t)
	c := newClient(t, rl, &evclient.Config{MaxBodyBytes: 50 << 10})
	for _, q := range []string{"", "?chunked=1"} {
		if _, err := doReq(t, rl, c, &evclient.Request{URL: srv.URL + q}); !errors.Is(err, evclient.ErrBodyTooLarge) {
			t.Errorf("%q: %v, want ErrBodyTooLarge", q, err)
		}
	}
	// Stream has no limit.
	var n int
	ch := make(chan error, 1)
	rl.Post(func() {
		c.Stream(&evclient.Request{URL: srv.URL}, evclient.Handler{
			OnBody: func(_ *evclient.Call, p []byte) { n += len(p) },
			OnDone: func(_ *evclient.Call, err error) { ch <- err },
		})
	})
	if err := <-ch; err != nil || n != len(data) {
		t.Errorf("Stream: %v, %d bytes", err, n)
	}
}

func TestClientCallbacksReenter(t *testing.T) {
	leakCheck(t)
	data := pattern(1<<20, 9)
	srv := newCountingServer(t, bigHandler(data))
	rl := startLoop(t)
	c := newClient(t, rl, nil)

	// Paused at the head of a response without a body: it ends anyway.
	ch := make(chan error, 1)
	rl.Post(func() {
		c.Stream(&evclient.Request{Method: "HEAD", URL: srv.URL}, evclient.Handler{
			OnResponse: func(call *evclient.Call, _ *evclient.Response) { call.PauseRead() },
			OnDone:     func(_ *evclient.Call, err error) { ch <- err },
		})
	})
	if err := <-ch; err != nil {
		t.Fatal(err)
	}
	mustGet(t, rl, c, srv.URL) // the connection was not left paused
	if st := stats(rl, c); st.Dials != 1 {
		t.Errorf("stats %+v", st)
	}

	// Canceled from its own OnBody: no more callbacks, the connection goes.
	var bodies int
	done := make(chan struct{})
	rl.Post(func() {
		c.Stream(&evclient.Request{URL: srv.URL}, evclient.Handler{
			OnBody: func(call *evclient.Call, p []byte) {
				bodies++
				if !call.Cancel() {
					t.Error("Cancel from OnBody")
				}
				close(done)
			},
			OnDone: func(*evclient.Call, error) { t.Error("OnDone after Cancel") },
		})
	})
	<-done
	if st := stats(rl, c); bodies != 1 || st.Open != 0 {
		t.Errorf("after Cancel in OnBody: %d bodies, %+v", bodies, st)
	}

	// Close from a callback, with other calls in flight and queued.
	c2 := newClient(t, rl, &evclient.Config{MaxConnsPerHost: 1})
	errs := make(chan error, 3)
	rl.Post(func() {
		c2.Stream(&evclient.Request{URL: srv.URL}, evclient.Handler{
			OnBody: func(*evclient.Call, []byte) { c2.Close() },
			OnDone: func(_ *evclient.Call, err error) { errs <- err },
		})
		c2.Get(srv.URL, func(_ *evclient.Response, err error) { errs <- err })
		c2.Get(srv.URL, func(_ *evclient.Response, err error) { errs <- err })
	})
	for range 3 {
		if err := <-errs; !errors.Is(err, evclient.ErrClosed) {
			t.Errorf("closed from a callback: %v", err)
		}
	}
	if st := stats(rl, c2); st.Open != 0 || st.Queued != 0 {
		t.Errorf("after Close: %+v", st)
	}
}
