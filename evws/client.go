package evws

// The client's side of the opening handshake (RFC 6455 §4.1), on package
// evclient: names through evdns with Happy Eyeballs, TLS by evnet's layer.

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"

	"github.com/eddyloop/eddy/evhttp/evclient"
	"github.com/eddyloop/eddy/evnet"
)

// Dial opens a WebSocket connection to url (ws://host[:port]/path or
// wss://...) with the HTTP client cl, on cl's loop, and returns the
// connection, which is not open yet: h.OnOpen runs once the server has
// accepted the handshake, or h.OnClose (without OnOpen) with the reason
// the handshake failed: an error wrapping ErrHandshake, or evclient's.
// cfg (nil for the defaults) is copied. Dial must be called on the
// loop's goroutine; it returns an error only for a malformed URL.
func Dial(cl *evclient.Client, url string, cfg *Config, h Handler) (*Conn, error) {
	var httpURL string
	switch {
	case hasPrefixFold(url, "ws://"):
		httpURL = "http://" + url[len("ws://"):]
	case hasPrefixFold(url, "wss://"):
		httpURL = "https://" + url[len("wss://"):]
	default:
		return nil, fmt.Errorf("evws: URL %q is not ws:// or wss://", url)
	}
	d := cfg.withDefaults()
	c := &Conn{cfg: &d, h: &h, flags: fClient}
	var raw [16]byte
	rand.Read(raw[:])
	key := base64.StdEncoding.EncodeToString(raw[:])
	hdr := http.Header{}
	for k, v := range d.Header {
		hdr[k] = v
	}
	hdr.Set("Connection", "Upgrade")
	hdr.Set("Upgrade", "websocket")
	hdr.Set("Sec-WebSocket-Version", "13")
	hdr.Set("Sec-WebSocket-Key", key)
	if len(d.Subprotocols) > 0 {
		hdr.Set("Sec-WebSocket-Protocol", strings.Join(d.Subprotocols, ", "))
	}
	if d.Deflate {
		hdr.Set("Sec-WebSocket-Extensions", clientOffer)
	}
	fail := func(err error) {
		if c.flags&fDone == 0 {
			c.flags |= fDone
			if h.OnClose != nil {
				h.OnClose(c, err)
			}
		}
	}
	upgraded := false
	cl.Stream(&evclient.Request{URL: httpURL, Header: hdr}, evclient.Handler{
		OnUpgrade: func(call *evclient.Call, resp *evclient.Response, nc *evnet.Conn) {
			upgraded = true
			if err := c.checkResponse(resp, key); err != nil {
				nc.Close()
				fail(err)
				return
			}
			nc.SetHandler(handler)
			c.start(nc)
		},
		OnDone: func(call *evclient.Call, err error) {
			switch {
			case upgraded:
			case err != nil:
				fail(fmt.Errorf("%w: %w", ErrHandshake, err))
			default:
				status := 0
				if r := call.Response(); r != nil {
					status = r.Status
				}
				fail(fmt.Errorf("%w: server answered %d", ErrHandshake, status))
			}
		},
	})
	return c, nil
}

// checkResponse checks the server's 101 (RFC 6455 §4.1, the client's
// requirements) and takes the negotiated subprotocol and extension.
func (c *Conn) checkResponse(resp *evclient.Response, key string) error {
	if !strings.EqualFold(resp.Header("Upgrade"), "websocket") {
		return fmt.Errorf("%w: Upgrade is %q", ErrHandshake, resp.Header("Upgrade"))
	}
	if resp.Header("Sec-WebSocket-Accept") != acceptKey(key) {
		return fmt.Errorf("%w: bad Sec-WebSocket-Accept", ErrHandshake)
	}
	if p := resp.Header("Sec-WebSocket-Protocol"); p != "" {
		found := false
		for _, s := range c.cfg.Subprotocols {
			found = found || s == p
		}
		if !found {
			return fmt.Errorf("%w: subprotocol %q not offered", ErrHandshake, p)
		}
		c.setProto(p)
	}
	exts := resp.Values("Sec-WebSocket-Extensions")
	if len(exts) > 0 && !c.cfg.Deflate {
		return fmt.Errorf("%w: extensions not offered", ErrHandshake)
	}
	d, on, err := acceptDeflate(exts)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrHandshake, err)
	}
	if on {
		c.flags |= fDeflate
		c.deflate = d
	}
	return nil
}

// hasPrefixFold reports whether s starts with prefix, without regard to
// ASCII case.
func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
