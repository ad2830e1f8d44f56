package evclient

import (
	"fmt"
	"net/netip"
	"net/url"
	"strings"

	"github.com/eddyloop/eddy/internal/ascii"
)

// parsedURL is a parsed absolute http or https URL, cut into what a
// request needs.
// Every string is a substring of the URL unless the URL needed fixing
// (upper-case host, bytes that must be escaped), so parsing a well-formed
// URL allocates nothing.
type parsedURL struct {
	host      string     // host name or address, lower case, without brackets
	port      string     // decimal port, "80" (http) or "443" (https) when the URL has none
	key       hostKey    // the pool key
	authority string     // the Host header: host[:port] as in the URL, without userinfo
	target    string     // origin-form request target: path and query, "/" at least
	userinfo  string     // "user:password" from the URL, if any (unescaped)
	ip        netip.Addr // the host as an address, if it is one
	tls       bool       // https
}

// hostKey identifies a host's pool: the scheme, and the host, or
// host:port when the port is not the scheme's.
type hostKey struct {
	name string
	tls  bool
}

// parseURL parses an absolute http or https URL. Other schemes are
// refused with ErrScheme.
func parseURL(raw string) (parsedURL, error) {
	var u parsedURL
	i := strings.Index(raw, "://")
	if i <= 0 {
		return u, fmt.Errorf("%w %q: not an absolute http or https URL", ErrURL, raw)
	}
	switch scheme := raw[:i]; {
	case ascii.EqualFold(scheme, "http"):
	case ascii.EqualFold(scheme, "https"):
		u.tls = true
	default:
		return u, fmt.Errorf("%w %q in %q", ErrScheme, scheme, raw)
	}
	rest := raw[i+3:]
	if j := strings.IndexByte(rest, '#'); j >= 0 {
		rest = rest[:j]
	}
	end := strings.IndexAny(rest, "/?")
	if end < 0 {
		end = len(rest)
	}
	auth := rest[:end]
	target := rest[end:]
	if at := strings.LastIndexByte(auth, '@'); at >= 0 {
		ui, err := url.PathUnescape(auth[:at])
		if err != nil {
			return u, fmt.Errorf("%w %q: bad userinfo", ErrURL, raw)
		}
		u.userinfo = ui
		auth = auth[at+1:]
	}
	host, port := auth, ""
	if strings.HasPrefix(auth, "[") {
		k := strings.IndexByte(auth, ']')
		if k < 0 {
			return u, fmt.Errorf("%w %q: missing ']' in host", ErrURL, raw)
		}
		host = auth[1:k]
		switch after := auth[k+1:]; {
		case after == "":
		case after[0] == ':':
			port = after[1:]
		default:
			return u, fmt.Errorf("%w %q: bad host", ErrURL, raw)
		}
		a, err := netip.ParseAddr(host)
		if err != nil || !a.Is6() {
			return u, fmt.Errorf("%w %q: bad IPv6 address", ErrURL, raw)
		}
		u.ip = a
	} else if k := strings.LastIndexByte(auth, ':'); k >= 0 {
		host, port = auth[:k], auth[k+1:]
	}
	if host == "" {
		return u, fmt.Errorf("%w %q: missing host", ErrURL, raw)
	}
	if !u.ip.IsValid() {
		for i := 0; i < len(host); i++ {
			c := host[i]
			if c <= ' ' || c >= 0x7f || strings.IndexByte("\"<>\\^`{|}%/", c) >= 0 {
				return u, fmt.Errorf("%w %q: bad host", ErrURL, raw)
			}
		}
		if strings.Trim(host, "0123456789.") == "" { // else ParseAddr's error would allocate
			if a, err := netip.ParseAddr(host); err == nil && a.Is4() {
				u.ip = a
			}
		}
	}
	def := "80"
	if u.tls {
		def = "443"
	}
	explicit := port != ""
	if !explicit {
		port = def
	} else {
		n := 0
		for i := 0; i < len(port); i++ {
			if port[i] < '0' || port[i] > '9' || n > 65535 {
				return u, fmt.Errorf("%w %q: bad port", ErrURL, raw)
			}
			n = n*10 + int(port[i]-'0')
		}
		if n == 0 || n > 65535 {
			return u, fmt.Errorf("%w %q: bad port", ErrURL, raw)
		}
		if port == def {
			explicit = false
		}
	}
	// Host names compare without regard to case: the pool key and the Host
	// header use lower case (ToLower returns its argument when it has none).
	u.host, u.port, u.authority = ascii.ToLower(host), port, ascii.ToLower(auth)
	u.key.tls = u.tls
	switch {
	case !explicit && u.ip.Is6():
		u.key.name = "[" + u.host + "]"
	case !explicit:
		u.key.name = u.host
	case u.authority == auth:
		u.key.name = auth // host:port as written: no allocation
	case u.ip.Is6():
		u.key.name = "[" + u.host + "]:" + port
	default:
		u.key.name = u.host + ":" + port
	}
	switch {
	case target == "":
		target = "/"
	case target[0] == '?':
		target = "/" + target
	}
	u.target = escapeTarget(target)
	return u, nil
}

// badTargetByte reports whether c cannot be in a request-target as it
// is: a control, space, non-ASCII or one of a few delimiters.
func badTargetByte(c byte) bool {
	return c <= ' ' || c >= 0x7f || strings.IndexByte("\"<>\\^`{|}", c) >= 0
}

// dialAddr returns the address to dial: "host:port" or "[v6]:port".
func (u *parsedURL) dialAddr() string {
	if u.ip.Is6() {
		return "[" + u.host + "]:" + u.port
	}
	return u.host + ":" + u.port
}

// escapeTarget percent-encodes the bytes a request-target cannot hold
// (controls, space, non-ASCII and a few delimiters), as net/url does for a
// path; a target without them is returned as it is.
func escapeTarget(t string) string {
	bad := badTargetByte
	i := 0
	for i < len(t) && !bad(t[i]) {
		i++
	}
	if i == len(t) {
		return t
	}
	const hex = "0123456789ABCDEF"
	b := make([]byte, 0, len(t)+16)
	b = append(b, t[:i]...)
	for ; i < len(t); i++ {
		if c := t[i]; bad(c) {
			b = append(b, '%', hex[c>>4], hex[c&15])
		} else {
			b = append(b, c)
		}
	}
	return string(b)
}
