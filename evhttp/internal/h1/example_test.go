package h1_test

import (
	"fmt"
	"time"

	"github.com/eddyloop/eddy/evhttp/internal/h1"
)

// A server's view: bytes arrive in pieces, the parser asks for more until
// a head is complete, and the body decoder finds the payload in place.
func Example() {
	arrivals := []string{
		"POST /upload HTTP/1.1\r\nHost: exa",
		"mple.com\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
		"lo\r\n6;note=x\r\n world\r\n0\r\nX-Sum: 42\r\n\r\nGET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
	}
	var (
		p      h1.Parser
		req    h1.Request
		body   h1.Body
		buf    []byte // what the connection has buffered
		inBody bool
	)
	for _, a := range arrivals {
		buf = append(buf, a...)
		for {
			if !inBody {
				n, err := p.ParseRequest(buf, &req)
				if err == h1.ErrNeedMore {
					fmt.Println("need more")
					break
				}
				if err != nil {
					fmt.Println("answer", h1.Status(err), err)
					return
				}
				fmt.Printf("%s %s HTTP/1.%d host=%s chunked=%v\n", req.Method, req.Target, req.Minor, req.Host, req.Chunked)
				buf = buf[n:]
				body.ResetRequest(&req)
				inBody = true
			}
			n, payload, done, err := body.Decode(buf)
			if err == h1.ErrNeedMore {
				fmt.Println("need more")
				break
			}
			if err != nil {
				fmt.Println("answer", h1.Status(err), err)
				return
			}
			if len(payload) > 0 {
				fmt.Printf("payload %q\n", payload)
			}
			if done {
				if v, ok := body.Trailers.Lookup("x-sum"); ok {
					fmt.Printf("trailer X-Sum=%s\n", v)
				}
				fmt.Println("end of request")
				inBody = false
			}
			buf = buf[n:]
		}
	}

	// The answer, serialized into a reused buffer.
	out := h1.AppendStatusLine(nil, 1, 200)
	out = h1.AppendDateHeader(out, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	out = h1.AppendHeaderInt(out, "Content-Length", 2)
	out = append(out, "\r\nok"...)
	fmt.Printf("%q\n", out)

	// Output:
	// need more
	// POST /upload HTTP/1.1 host=example.com chunked=true
	// payload "hel"
	// need more
	// payload "lo"
	// payload " world"
	// trailer X-Sum=42
	// end of request
	// GET / HTTP/1.1 host=example.com chunked=false
	// end of request
	// need more
	// "HTTP/1.1 200 OK\r\nDate: Fri, 02 Jan 2026 03:04:05 GMT\r\nContent-Length: 2\r\n\r\nok"
}

// A smuggling attempt is refused with the status to answer.
func ExampleParser_ParseRequest() {
	var p h1.Parser
	var req h1.Request
	_, err := p.ParseRequest([]byte("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"), &req)
	fmt.Println(h1.Status(err), err)
	// Output: 400 h1: both Transfer-Encoding and Content-Length
}

// A client parses a response to HEAD, which has no body whatever its
// Content-Length says.
func ExampleParser_ParseResponse() {
	var p h1.Parser
	var resp h1.Response
	n, err := p.ParseResponse([]byte("HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"), "HEAD", &resp)
	fmt.Println(n, err, resp.Status, resp.ContentLength, resp.NoBody)
	// Output: 41 <nil> 200 1234 true
}
