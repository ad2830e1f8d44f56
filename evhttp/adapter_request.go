package evhttp

// Request building for the adapter: the http.Request of a request the loop
// has parsed, as net/http's server would make it (method, URL, header with
// canonical keys, host, framing, trailer declarations, remote address),
// from the views of the parsed head, in one string for all its bytes and
// without an allocation per key for the common field names.

import (
	"context"
	"errors"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"

	"github.com/eddyloop/eddy/internal/ascii"
)

// newRequest builds the http.Request of r, as net/http's server would.
func (a *adapter) newRequest(r *Request, ctx context.Context, ac *adConn) (*http.Request, error) {
	h := &r.h
	method := methodString(h.Method)
	// One string holds the target, the host and the field values (all
	// but Host's, which net/http takes out of the Header): one allocation
	// for them all.
	n := len(h.Target) + len(h.Host)
	fields := 0
	for _, f := range h.Headers {
		if !isHostField(f.Name) {
			n += len(f.Value)
			fields++
		}
	}
	var sb strings.Builder
	sb.Grow(n)
	sb.Write(h.Target)
	sb.Write(h.Host)
	for _, f := range h.Headers {
		if !isHostField(f.Name) {
			sb.Write(f.Value)
		}
	}
	s := sb.String()
	target := s[:len(h.Target)]
	off := len(h.Target) + len(h.Host)
	host := s[len(h.Target):off]
	rawurl := target
	justAuthority := method == "CONNECT" && !strings.HasPrefix(target, "/")
	if justAuthority {
		rawurl = "http://" + target
	}
	u, err := url.ParseRequestURI(rawurl)
	if err != nil {
		return nil, err
	}
	if justAuthority {
		u.Scheme = ""
	}
	header := make(http.Header, fields)
	vals := make([]string, fields) // one array for the usual single values
	i := 0
	for _, f := range h.Headers {
		if isHostField(f.Name) {
			continue
		}
		k := adKey(f.Name)
		v := s[off : off+len(f.Value)]
		off += len(f.Value)
		if old, ok := header[k]; ok {
			header[k] = append(old, v)
			continue
		}
		vals[i] = v
		header[k] = vals[i : i+1 : i+1]
		i++
	}
	req := &http.Request{
		Method:     method,
		URL:        u,
		Proto:      r.Proto(),
		ProtoMajor: 1,
		ProtoMinor: h.Minor,
		Header:     header,
		Body:       http.NoBody,
		Close:      h.Close,
		RequestURI: target,
	}
	req.Host = u.Host
	if req.Host == "" {
		req.Host = host
	}
	if pragma, ok := header["Pragma"]; ok && len(pragma) > 0 && pragma[0] == "no-cache" {
		if _, ok := header["Cache-Control"]; !ok {
			header["Cache-Control"] = []string{"no-cache"}
		}
	}
	switch {
	case h.Chunked:
		req.ContentLength = -1
		req.TransferEncoding = []string{"chunked"}
		delete(header, "Transfer-Encoding")
	case h.ContentLength > 0:
		req.ContentLength = h.ContentLength
	}
	if tr, ok := header["Trailer"]; ok {
		delete(header, "Trailer")
		if h.Chunked {
			req.Trailer = make(http.Header)
			for _, v := range tr {
				for key := range strings.SplitSeq(v, ",") {
					key = textproto.CanonicalMIMEHeaderKey(textproto.TrimString(key))
					switch key {
					case "Transfer-Encoding", "Trailer", "Content-Length":
						return nil, errors.New("evhttp: bad trailer key " + key)
					case "":
						continue
					}
					req.Trailer[key] = nil
				}
			}
		}
	}
	req.RemoteAddr = ac.remote
	req.TLS = ac.tls // shared by the connection's requests, as net/http does
	return req.WithContext(ctx), nil
}

// isHostField reports whether a field is Host, which the http.Request
// has apart.
func isHostField(name []byte) bool {
	return ascii.EqualFold(name, "host")
}

// methodString returns the method as a string, without allocating for the
// common ones.
func methodString(m []byte) string {
	switch string(m) {
	case "GET":
		return "GET"
	case "HEAD":
		return "HEAD"
	case "POST":
		return "POST"
	case "PUT":
		return "PUT"
	case "DELETE":
		return "DELETE"
	case "PATCH":
		return "PATCH"
	case "OPTIONS":
		return "OPTIONS"
	case "CONNECT":
		return "CONNECT"
	}
	return string(m)
}

// adCommonKeys maps the usual spellings of common field names to their
// canonical form, so that the usual requests cost no allocation per key.
var adCommonKeys = func() map[string]string {
	m := make(map[string]string)
	for _, k := range []string{
		"Accept", "Accept-Charset", "Accept-Encoding", "Accept-Language", "Authorization",
		"Cache-Control", "Connection", "Content-Encoding", "Content-Length", "Content-Type",
		"Cookie", "Date", "Expect", "Forwarded", "Host", "If-Match", "If-Modified-Since",
		"If-None-Match", "If-Range", "If-Unmodified-Since", "Keep-Alive", "Origin", "Pragma",
		"Range", "Referer", "Te", "Trailer", "Transfer-Encoding", "Upgrade", "User-Agent",
		"Via", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Real-Ip",
		"X-Request-Id", "Sec-Websocket-Key", "Sec-Websocket-Version", "Sec-Websocket-Protocol",
		"Sec-Websocket-Extensions", "Sec-Fetch-Dest", "Sec-Fetch-Mode", "Sec-Fetch-Site",
		"Upgrade-Insecure-Requests", "Dnt", "Priority",
	} {
		m[k] = k
		m[ascii.ToLower(k)] = k
	}
	return m
}()

// adKey returns the canonical form of a field name.
func adKey(name []byte) string {
	if k, ok := adCommonKeys[string(name)]; ok {
		return k
	}
	return textproto.CanonicalMIMEHeaderKey(string(name))
}
