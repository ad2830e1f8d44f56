package evclient

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"

	"github.com/eddyloop/eddy/internal/ascii"
)

// isRedirect reports whether a status is a redirect the client follows.
func isRedirect(status int) bool {
	switch status {
	case 301, 302, 303, 307, 308:
		return true
	}
	return false
}

// nextHop computes the next hop of a redirect, following net/http's
// rules: 301, 302 and 303 turn any method but GET and HEAD into GET and
// drop the body; 307 and 308 keep the method and the body, and are not
// followed when the body cannot be sent again (a streamed one). It returns
// follow false when the response is to be delivered as it is (no Location,
// or a 307/308 with a body that cannot be replayed).
// from is the URL of the hop that answered (Call.url). The fields of a
// RawHeader go into the next hop's Header, its Host into its Host.
func nextHop(req *Request, from string, status int, location string) (next Request, follow bool, err error) {
	includeBody := false
	method := req.method()
	switch status {
	case 301, 302, 303:
		if method != "GET" && method != "HEAD" {
			method = "GET"
		}
	case 307, 308:
		if req.StreamBody {
			return next, false, nil
		}
		includeBody = true
	default:
		return next, false, nil
	}
	if location == "" {
		return next, false, nil
	}
	base, err := url.Parse(from)
	if err != nil {
		return next, false, fmt.Errorf("%w: %v", ErrRedirect, err)
	}
	to, err := base.Parse(location)
	if err != nil {
		return next, false, fmt.Errorf("%w %q: %v", ErrRedirect, location, err)
	}
	to.Fragment, to.RawFragment = "", ""
	next = Request{Method: method, URL: to.String(), ExpectContinue: req.ExpectContinue && includeBody}
	if includeBody {
		next.Body = req.Body
	}
	sameHost := ascii.EqualFold(base.Host, to.Host)
	header, host := req.Header, req.Host
	if req.RawHeader != nil {
		header = make(http.Header, len(req.Header)+8)
		for k, vs := range req.Header {
			header[k] = slices.Clip(vs) // Add below must not write into the program's slices
		}
		rawFields(req.RawHeader, func(name, value []byte) bool {
			if ascii.EqualFold(name, "Host") {
				host = string(value)
			} else {
				header.Add(string(name), string(value))
			}
			return true
		})
	}
	if sameHost {
		next.Host = host
	}
	if len(header) > 0 {
		next.Header = make(http.Header, len(header)+1)
		for k, vs := range header {
			switch http.CanonicalHeaderKey(k) {
			case "Authorization", "Www-Authenticate", "Cookie", "Cookie2", "Proxy-Authorization":
				if !sameHost {
					continue
				}
			case "Content-Type", "Content-Encoding", "Content-Language", "Expect":
				if !includeBody {
					continue
				}
			case "Referer":
				continue
			}
			next.Header[k] = vs
		}
	}
	if next.Header == nil {
		next.Header = make(http.Header, 1)
	}
	ref := *base
	ref.User, ref.Fragment, ref.RawFragment = nil, "", ""
	next.Header.Set("Referer", ref.String())
	return next, true, nil
}
