package evclient_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evhttp/evclient"
	"github.com/eddyloop/eddy/evnet"
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

// TestStreamBodyErrors: what Write and CloseBody return outside a
// streamed body, after CloseBody, and after the call ended.
func TestStreamBodyErrors(t *testing.T) {
	leakCheck(t)
	srv := newCountingServer(t, http.HandlerFunc(echoHandler))
	rl := startLoop(t)
	c := newClient(t, rl, nil)
	done := make(chan *evclient.Call, 2)
	rl.Do(func() {
		call := c.Do(&evclient.Request{Method: "POST", URL: srv.URL, Body: []byte("bytes")}, func(*evclient.Response, error) {})
		if _, err := call.Write([]byte("x")); !errors.Is(err, evclient.ErrNotStreaming) {
			t.Errorf("Write without StreamBody: %v", err)
		}
		if err := call.CloseBody(); !errors.Is(err, evclient.ErrNotStreaming) {
			t.Errorf("CloseBody without StreamBody: %v", err)
		}
		call = c.Stream(&evclient.Request{Method: "POST", URL: srv.URL, StreamBody: true}, evclient.Handler{
			OnDone: func(call *evclient.Call, err error) {
				if err != nil {
					t.Error(err)
				}
				done <- call
			},
		})
		if n, err := call.Write(nil); n != 0 || err != nil {
			t.Errorf("empty Write: %d, %v", n, err)
		}
		call.Write([]byte("streamed"))
		if err := call.CloseBody(); err != nil {
			t.Errorf("CloseBody: %v", err)
		}
		if err := call.CloseBody(); err != nil {
			t.Errorf("CloseBody again: %v", err)
		}
		if _, err := call.Write([]byte("x")); !errors.Is(err, evclient.ErrBodyClosed) {
			t.Errorf("Write after CloseBody: %v", err)
		}
	})
	call := <-done
	rl.Do(func() {
		if _, err := call.Write([]byte("x")); !errors.Is(err, evclient.ErrBodyClosed) && !errors.Is(err, evclient.ErrDone) {
			t.Errorf("Write after the end: %v", err)
		}
		if err := call.CloseBody(); !errors.Is(err, evclient.ErrDone) {
			t.Errorf("CloseBody after the end: %v", err)
		}
		if call.Response().Status != 200 {
			t.Errorf("Response after the end: %+v", call.Response())
		}
	})
}

// TestStreamFullBeforeConnect: bytes written before the request is on a
// connection are held, and count for Full: the producer stops at the
// high watermark there too, and OnWrite asks for more once they are sent.
func TestStreamFullBeforeConnect(t *testing.T) {
	leakCheck(t)
	srv := newCountingServer(t, http.HandlerFunc(echoHandler))
	rl := startLoop(t)
	c := newClient(t, rl, &evclient.Config{Conn: evnet.ConnConfig{HighWater: 4 << 10}})
	data := pattern(64<<10, 3)
	off := 0
	var body []byte
	var onWrites int
	done := make(chan error, 1)
	rl.Do(func() {
		call := c.Stream(&evclient.Request{Method: "PUT", URL: srv.URL, StreamBody: true}, evclient.Handler{
			OnWrite: func(call *evclient.Call) {
				onWrites++
				for off < len(data) && !call.Full() {
					call.Write(data[off : off+1024])
					off += 1024
				}
				if off == len(data) {
					call.CloseBody()
				}
			},
			OnBody: func(_ *evclient.Call, p []byte) { body = append(body, p...) },
			OnDone: func(_ *evclient.Call, err error) { done <- err },
		})
		for !call.Full() { // the connection is still being dialled
			call.Write(data[off : off+1024])
			off += 1024
		}
		if off != 5<<10 {
			t.Errorf("Full after %d bytes held, want %d (HighWater and a piece)", off, 5<<10)
		}
	})
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("len=%d sum=%s te=[chunked]", len(data), digest(data)); !strings.Contains(string(body), want) || onWrites == 0 {
		t.Errorf("got %q, want %q; %d OnWrite", body, want, onWrites)
	}
}

// TestStreamAnsweredEarly: a server that answers before the streamed body
// is sent ends the call; what the program writes then is dropped, and the
// connection, its request unfinished, is not reused.
func TestStreamAnsweredEarly(t *testing.T) {
	leakCheck(t)
	srv := newRawServer(t, func(n int, conn net.Conn, r *bufio.Reader) {
		if _, err := http.ReadRequest(r); err != nil { // the head only
			return
		}
		io.WriteString(conn, "HTTP/1.1 413 Content Too Large\r\nContent-Length: 4\r\n\r\nbig!")
		io.Copy(io.Discard, r)
	})
	rl := startLoop(t)
	c := newClient(t, rl, nil)
	var status int
	var body []byte
	var started bool
	done := make(chan error, 1)
	rl.Do(func() {
		c.Stream(&evclient.Request{Method: "POST", URL: srv.URL(), StreamBody: true}, evclient.Handler{
			OnWrite: func(call *evclient.Call) { // the start of a body, never closed
				if !started {
					started = true
					call.Write([]byte("the start of a body"))
				}
			},
			OnResponse: func(call *evclient.Call, resp *evclient.Response) {
				status = resp.Status
				if n, err := call.Write([]byte("dropped")); n != 7 || err != nil {
					t.Errorf("Write after the answer: %d, %v", n, err)
				}
				if call.Full() {
					t.Error("Full after the answer")
				}
			},
			OnBody: func(_ *evclient.Call, p []byte) { body = append(body, p...) },
			OnDone: func(_ *evclient.Call, err error) { done <- err },
		})
	})
	if err := <-done; err != nil || status != 413 || string(body) != "big!" {
		t.Fatalf("got %v, %d %q", err, status, body)
	}
	rl.Barrier()
	if st := stats(rl, c); st.Open != 0 {
		t.Errorf("connection kept: %+v", st)
	}
}

// TestStreamPausedAtHead: a call paused before its response arrives gets
// nothing, head included, until ResumeRead.
func TestStreamPausedAtHead(t *testing.T) {
	leakCheck(t)
	written := make(chan struct{})
	srv := newRawServer(t, func(n int, conn net.Conn, r *bufio.Reader) {
		if _, ok := readRequest(r); ok {
			io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			close(written)
		}
		io.Copy(io.Discard, r)
	})
	rl := startLoop(t)
	c := newClient(t, rl, nil)
	var events []string
	var call *evclient.Call
	done := make(chan error, 1)
	rl.Do(func() {
		call = c.Stream(&evclient.Request{URL: srv.URL()}, evclient.Handler{
			OnResponse: func(*evclient.Call, *evclient.Response) { events = append(events, "response") },
			OnBody:     func(*evclient.Call, []byte) { events = append(events, "body") },
			OnDone:     func(_ *evclient.Call, err error) { done <- err },
		})
		call.PauseRead()
	})
	<-written
	rl.Barrier() // the answer is in the client's socket: the loop saw it
	rl.Do(func() {
		if len(events) != 0 || !call.IsPaused() || call.Response() != nil {
			t.Errorf("paused: %q, IsPaused %v", events, call.IsPaused())
		}
		call.ResumeRead()
	})
	if err := <-done; err != nil || strings.Join(events, " ") != "response body" {
		t.Errorf("after ResumeRead: %v, %q", err, events)
	}
}
