// Package httpcheck is the client side of the HTTP workloads: the request
// every tool sends, a strict incremental check of the one response every
// server must give, and the correctness gate a server passes before it is
// measured.
//
// The wanted response is HTTP/1.1, status 200, exactly one Content-Length
// header of 13, no Transfer-Encoding, no "Connection: close", and the body
// "Hello, World!"; other headers (Server, Date, Content-Type...) are free.
package httpcheck

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// Request is the request the gate and the load generator send: what wrk
// sends, give or take the Host value.
const Request = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"

// Body is the body every response must carry.
const Body = "Hello, World!"

// MaxHead is the longest response head accepted.
const MaxHead = 8 << 10

var (
	statusPrefix = []byte("HTTP/1.1 200 ")
	endOfHead    = []byte("\r\n\r\n")
	crlf         = []byte("\r\n")
	body         = []byte(Body)
)

// Parse checks the response at the front of b. It returns the response's
// length when b holds all of it and it is the wanted one; 0 and no error
// when b is a valid beginning that needs more bytes; an error as soon as b
// cannot be the beginning of the wanted response.
func Parse(b []byte) (int, error) {
	if n := min(len(b), len(statusPrefix)); !bytes.Equal(b[:n], statusPrefix[:n]) {
		return 0, fmt.Errorf("status line %q, want %q...", clip(b, 40), statusPrefix)
	}
	end := bytes.Index(b, endOfHead)
	if end < 0 {
		if len(b) > MaxHead {
			return 0, fmt.Errorf("no end of the head in %d bytes", len(b))
		}
		return 0, nil
	}
	if err := checkHead(b[:end]); err != nil {
		return 0, err
	}
	start := end + len(endOfHead)
	got := b[start:min(len(b), start+len(body))]
	if !bytes.Equal(got, body[:len(got)]) {
		return 0, fmt.Errorf("body %q, want %q", got, Body)
	}
	if len(got) < len(body) {
		return 0, nil
	}
	return start + len(body), nil
}

// checkHead checks the status line and header lines of a complete head
// (without its final CRLF CRLF).
func checkHead(head []byte) error {
	lines := bytes.Split(head, crlf) // lines[0] is the status line, checked by Parse
	cls := 0
	for _, line := range lines[1:] {
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok || len(name) == 0 || bytes.ContainsAny(name, " \t") {
			return fmt.Errorf("malformed header line %q", clip(line, 60))
		}
		value = bytes.TrimSpace(value)
		switch strings.ToLower(string(name)) {
		case "content-length":
			cls++
			if n, err := strconv.Atoi(string(value)); err != nil || n != len(body) {
				return fmt.Errorf("Content-Length %q, want %d", value, len(body))
			}
		case "transfer-encoding":
			return fmt.Errorf("Transfer-Encoding %q, want none", value)
		case "connection":
			if bytes.Contains(bytes.ToLower(value), []byte("close")) {
				return errors.New("Connection: close (want keep-alive)")
			}
		}
	}
	if cls != 1 {
		return fmt.Errorf("%d Content-Length headers, want 1", cls)
	}
	return nil
}

func clip(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// Result is the outcome of one check of the gate.
type Result struct {
	Name string `json:"name"`
	Err  string `json:"error,omitempty"`
}

// Checks names the gate's checks in the order Gate runs them.
var Checks = []string{"single", "pipeline16", "fragmented", "pipeline1k"}

// Gate runs the correctness checks against the HTTP server at addr, each on
// a fresh connection and bounded by timeout:
//
//	single      one request, then a second one on the same connection
//	pipeline16  16 requests in one write
//	fragmented  the same 16 requests dribbled out in 7-byte writes
//	pipeline1k  1024 requests in one write (the responses outgrow the
//	            socket buffers)
//
// Every response must be the wanted one, in order, with nothing after the
// last. It returns one Result per check and the first failure, or nil.
func Gate(addr string, timeout time.Duration) ([]Result, error) {
	var out []Result
	var first error
	for _, name := range Checks {
		err := runCheck(addr, name, timeout)
		r := Result{Name: name}
		if err != nil {
			r.Err = err.Error()
			if first == nil {
				first = fmt.Errorf("%s: %w", name, err)
			}
		}
		out = append(out, r)
	}
	return out, first
}

func runCheck(addr, name string, timeout time.Duration) error {
	c, err := net.DialTimeout("tcp4", addr, timeout)
	if err != nil {
		return err
	}
	defer c.Close()
	r := &reader{c: c, deadline: time.Now().Add(timeout)}
	c.SetDeadline(r.deadline)
	switch name {
	case "single":
		for i := 1; i <= 2; i++ {
			if _, err := io.WriteString(c, Request); err != nil {
				return fmt.Errorf("request %d: write: %w", i, err)
			}
			if err := r.next(); err != nil {
				return fmt.Errorf("request %d: %w", i, err)
			}
			if err := r.nothingMore(); err != nil {
				return fmt.Errorf("after request %d: %w", i, err)
			}
		}
		return nil
	case "pipeline16":
		return pipelined(c, r, 16, 0)
	case "fragmented":
		return pipelined(c, r, 16, 7)
	case "pipeline1k":
		return pipelined(c, r, 1024, 0)
	}
	return fmt.Errorf("unknown check %q", name)
}

// pipelined writes n requests, all at once or in chunk-byte writes, while
// reading the n responses.
func pipelined(c net.Conn, r *reader, n, chunk int) error {
	batch := []byte(strings.Repeat(Request, n))
	werr := make(chan error, 1)
	go func() { // write while reading: large batches would deadlock otherwise
		if chunk <= 0 {
			_, err := c.Write(batch)
			werr <- err
			return
		}
		for i := 0; i < len(batch); i += chunk {
			if _, err := c.Write(batch[i:min(i+chunk, len(batch))]); err != nil {
				werr <- err
				return
			}
			time.Sleep(200 * time.Microsecond)
		}
		werr <- nil
	}()
	for i := 1; i <= n; i++ {
		if err := r.next(); err != nil {
			return fmt.Errorf("response %d of %d: %w", i, n, err)
		}
	}
	if err := <-werr; err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if err := r.nothingMore(); err != nil {
		return fmt.Errorf("after %d responses: %w", n, err)
	}
	return nil
}

// reader reads responses off a connection.
type reader struct {
	c        net.Conn
	deadline time.Time // of the whole check
	buf      []byte
	tmp      [16 << 10]byte
}

// next reads and checks one response.
func (r *reader) next() error {
	for {
		n, err := Parse(r.buf)
		if err != nil {
			return err
		}
		if n > 0 {
			r.buf = r.buf[:copy(r.buf, r.buf[n:])]
			return nil
		}
		m, rerr := r.c.Read(r.tmp[:])
		r.buf = append(r.buf, r.tmp[:m]...)
		if rerr != nil && m == 0 {
			if rerr == io.EOF {
				if len(r.buf) == 0 {
					return errors.New("connection closed by the server")
				}
				return fmt.Errorf("connection closed by the server after %d bytes of a response", len(r.buf))
			}
			return rerr
		}
	}
}

// quiet is how long nothingMore waits for bytes that should not come.
const quiet = 100 * time.Millisecond

// nothingMore checks that no byte follows the responses read so far and
// that the connection is still open.
func (r *reader) nothingMore() error {
	if len(r.buf) > 0 {
		return fmt.Errorf("unexpected bytes %q", clip(r.buf, 40))
	}
	r.c.SetReadDeadline(time.Now().Add(quiet))
	defer r.c.SetReadDeadline(r.deadline)
	n, err := r.c.Read(r.tmp[:])
	switch {
	case n > 0:
		return fmt.Errorf("unexpected bytes %q", clip(r.tmp[:n], 40))
	case err == io.EOF:
		return errors.New("connection closed by the server (want keep-alive)")
	case errors.Is(err, os.ErrDeadlineExceeded):
		return nil
	}
	return err
}
