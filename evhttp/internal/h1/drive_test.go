package h1

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
)

// The test driver plays the part of a connection: it appends each chunk of
// input to its buffer, parses heads and decodes bodies as far as the
// buffer allows, drops what was consumed and keeps the rest for the next
// chunk, and calls Body.EOF after the last chunk. To catch slices kept past
// their lifetime, it moves the unconsumed bytes to a fresh buffer and
// scribbles over the old one each time it consumes.

// message is what the driver saw of one message: a summary of its head,
// its payload and its trailers.
type message struct {
	head, body, trailers string
}

// outcome is what the driver saw of a whole input.
type outcome struct {
	msgs []message
	err  error  // the first fault, or nil
	rest string // unconsumed bytes at the end of the input
}

func (o outcome) String() string {
	var b strings.Builder
	for i, m := range o.msgs {
		fmt.Fprintf(&b, "#%d %s\n   body=%q trailers=%s\n", i, m.head, m.body, m.trailers)
	}
	fmt.Fprintf(&b, "err=%v rest=%q", o.err, o.rest)
	return b.String()
}

func summarizeHeaders(hs Headers) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, h := range hs {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q:%q", h.Name, h.Value)
	}
	b.WriteByte(']')
	return b.String()
}

func summarizeRequest(r *Request) string {
	return fmt.Sprintf("%s %s %v HTTP/1.%d host=%q cl=%d chunked=%v close=%v expect100=%v upgrade=%q headers=%s",
		r.Method, r.Target, r.Form, r.Minor, r.Host, r.ContentLength, r.Chunked, r.Close, r.Expect100, r.Upgrade,
		summarizeHeaders(r.Headers))
}

func summarizeResponse(r *Response) string {
	return fmt.Sprintf("HTTP/1.%d %d %q cl=%d nobody=%v chunked=%v eof=%v close=%v headers=%s",
		r.Minor, r.Status, r.Reason, r.ContentLength, r.NoBody, r.Chunked, r.UntilEOF, r.Close,
		summarizeHeaders(r.Headers))
}

// conn is the driver's connection state.
type conn struct {
	buf    []byte
	parser Parser
	body   Body
	req    Request
	resp   Response
	inBody bool
	out    outcome
	method string // for responses; "" means requests
	// switched is set once the connection has left HTTP/1.1: after a
	// request with Upgrade, a 101 response or a 2xx answer to CONNECT.
	switched bool
}

// consume drops n bytes from the buffer, moving the rest.
func (c *conn) consume(n int) {
	rest := append([]byte(nil), c.buf[n:]...)
	for i := range c.buf {
		c.buf[i] = '#'
	}
	c.buf = rest
}

// feed adds a chunk and processes what it can; it reports false once the
// connection has failed.
func (c *conn) feed(chunk []byte) bool {
	c.buf = append(c.buf, chunk...)
	for !c.switched {
		if !c.inBody {
			var n int
			var err error
			var head string
			if c.method == "" {
				n, err = c.parser.ParseRequest(c.buf, &c.req)
				if err == nil {
					head = summarizeRequest(&c.req)
					c.body.ResetRequest(&c.req)
				}
			} else {
				n, err = c.parser.ParseResponse(c.buf, c.method, &c.resp)
				if err == nil {
					head = summarizeResponse(&c.resp)
					c.body.ResetResponse(&c.resp)
				}
			}
			if err == ErrNeedMore {
				return true
			}
			if err != nil {
				c.out.err = err
				return false
			}
			c.out.msgs = append(c.out.msgs, message{head: head})
			c.consume(n)
			c.inBody = true
		}
		m := &c.out.msgs[len(c.out.msgs)-1]
		for c.inBody {
			n, p, done, err := c.body.Decode(c.buf)
			if err == ErrNeedMore {
				return true
			}
			if err != nil {
				c.out.err = err
				return false
			}
			m.body += string(p)
			if done {
				m.trailers = summarizeHeaders(c.body.Trailers)
				c.inBody = false
			}
			if n == 0 && !done {
				panic("Decode consumed nothing and asked for nothing")
			}
			c.consume(n)
		}
		// What follows a switch of protocols is not HTTP/1.1.
		if c.method == "" {
			c.switched = c.req.Upgrade != nil
		} else {
			c.switched = c.resp.Status == 101 || c.method == "CONNECT" && c.resp.Status/100 == 2
		}
	}
	return true
}

// finish ends the input.
func (c *conn) finish() outcome {
	if c.out.err == nil && c.inBody {
		if err := c.body.EOF(); err != nil {
			c.out.err = err
		} else {
			m := &c.out.msgs[len(c.out.msgs)-1]
			m.trailers = summarizeHeaders(c.body.Trailers)
			c.inBody = false
		}
	}
	if c.out.err == nil {
		c.out.rest = string(c.buf)
	}
	return c.out
}

// drive runs the chunks through a connection: method is "" for requests,
// else the method the responses answer.
func drive(chunks [][]byte, method string, lim Limits) outcome {
	c := &conn{method: method}
	c.parser.Limits, c.body.Limits = &lim, lim
	for _, ch := range chunks {
		if !c.feed(ch) {
			break
		}
	}
	return c.finish()
}

// Splitting helpers.

func whole(in string) [][]byte { return [][]byte{[]byte(in)} }

func splitAt(in string, cuts ...int) [][]byte {
	var out [][]byte
	prev := 0
	for _, c := range cuts {
		out = append(out, []byte(in[prev:c]))
		prev = c
	}
	return append(out, []byte(in[prev:]))
}

func bytewise(in string) [][]byte {
	out := make([][]byte, len(in))
	for i := 0; i < len(in); i++ {
		out[i] = []byte{in[i]}
	}
	return out
}

func randomSplit(r *rand.Rand, in string) [][]byte {
	var cuts []int
	for i := 1; i < len(in); i++ {
		if r.IntN(8) == 0 {
			cuts = append(cuts, i)
		}
	}
	return splitAt(in, cuts...)
}

// sameOutcome compares two outcomes, errors by identity.
func sameOutcome(a, b outcome) bool {
	if !errors.Is(a.err, b.err) || a.rest != b.rest || len(a.msgs) != len(b.msgs) {
		return false
	}
	for i := range a.msgs {
		if a.msgs[i] != b.msgs[i] {
			return false
		}
	}
	return true
}
