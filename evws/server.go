package evws

// The server's side of the opening handshake (RFC 6455 §4.2), from a
// native evhttp handler and from a standard http.Handler served by
// evhttp.Adapt.

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evhttp"
	"github.com/eddyloop/eddy/evnet"
)

// Upgrader accepts WebSocket connections on a server: it checks the
// opening handshake, negotiates the subprotocol and permessage-deflate,
// answers 101, and runs the connection with its Handler. One Upgrader
// serves any number of connections on any number of loops; it is
// immutable.
type Upgrader struct {
	cfg   Config
	h     Handler
	stats counters
}

// NewUpgrader returns an Upgrader with the settings cfg (nil for the
// defaults; copied) and the callbacks h.
func NewUpgrader(cfg *Config, h Handler) *Upgrader {
	u := &Upgrader{cfg: cfg.withDefaults(), h: h}
	u.cfg.stats = &u.stats
	return u
}

// Stats returns the Upgrader's counters so far. It may be called from any
// goroutine.
func (u *Upgrader) Stats() Stats { return u.stats.load() }

// handshakeError is a refused handshake: the status answered and why.
type handshakeError struct {
	status int
	why    string
}

func (e *handshakeError) Error() string {
	return fmt.Sprintf("evws: handshake refused (%d): %s", e.status, e.why)
}

func (e *handshakeError) Unwrap() error { return ErrHandshake }

// request is what the handshake needs of a request, from evhttp's or
// net/http's.
type request struct {
	method     string
	protoMinor int
	upgrade    bool // Upgrade: websocket, with Connection: upgrade
	version    string
	key        string
	origin     string
	host       string
	protocols  []string
	extensions []string
}

// check validates the handshake (RFC 6455 §4.2.1) and returns the
// response's fields, or the error to answer.
func (u *Upgrader) check(r *request) (accept, proto, ext string, d deflateParams, err *handshakeError) {
	switch {
	case !r.upgrade:
		return "", "", "", d, &handshakeError{http.StatusUpgradeRequired, "not a WebSocket upgrade request"}
	case r.method != "GET":
		return "", "", "", d, &handshakeError{http.StatusMethodNotAllowed, "method is not GET"}
	case r.protoMinor < 1:
		return "", "", "", d, &handshakeError{http.StatusBadRequest, "not HTTP/1.1"}
	case r.version != "13":
		return "", "", "", d, &handshakeError{http.StatusUpgradeRequired, "Sec-WebSocket-Version is not 13"}
	case !validKey([]byte(r.key)):
		return "", "", "", d, &handshakeError{http.StatusBadRequest, "bad Sec-WebSocket-Key"}
	case u.cfg.CheckOrigin != nil && !u.cfg.CheckOrigin(r.origin, r.host):
		return "", "", "", d, &handshakeError{http.StatusForbidden, "origin not allowed"}
	}
	proto = pickProtocol(u.cfg.Subprotocols, r.protocols)
	if u.cfg.Deflate && len(r.extensions) > 0 {
		var ok bool
		d, ext, ok = negotiateDeflate(r.extensions, u.cfg.ContextTakeoverBudget > 0, u.cfg.ContextWindowBits)
		if !ok {
			ext = ""
		}
	}
	return acceptKey(r.key), proto, ext, d, nil
}

// pickProtocol returns the first of the server's subprotocols that one of
// the client's Sec-WebSocket-Protocol fields lists.
func pickProtocol(server, fields []string) string {
	for _, s := range server {
		for _, f := range fields {
			if hasToken(f, s) {
				return s
			}
		}
	}
	return ""
}

// newConn returns a server connection for the negotiated parameters.
func (u *Upgrader) newConn(proto, ext string, d deflateParams) *Conn {
	c := &Conn{cfg: &u.cfg, h: &u.h}
	c.setProto(proto)
	if ext != "" {
		c.flags |= fDeflate
		c.deflate = d
	}
	return c
}

// open starts c on nc, keeping the client's context if negotiated and the
// loop's budget allows (the response promised it: the budget is checked
// again here only to count).
func (c *Conn) openServer(nc *evnet.Conn) {
	if c.flags&fDeflate != 0 && !c.deflate.clientNoContext {
		ls := stateOf(nc.Loop())
		size := 1 << c.deflate.clientBits
		ls.windows += size
		c.window = make([]byte, 0, size)
	}
	c.start(nc)
}

// Upgrade answers a WebSocket handshake on a native evhttp handler: it
// checks the request and answers 101, after which the connection is a
// *Conn run with the Upgrader's Handler (OnOpen first, on the loop, once
// the 101 has left). A request that is not a valid handshake is answered
// here (426 with "Sec-WebSocket-Version: 13" for another version or no
// upgrade at all, 400 for a bad key, 403 for a refused origin, 405 for a
// method other than GET) and the error is returned.
func (u *Upgrader) Upgrade(w *evhttp.ResponseWriter, r *evhttp.Request) (*Conn, error) {
	req := request{
		method:     string(r.Method()),
		protoMinor: r.ProtoMinor(),
		upgrade:    hasToken(string(r.Upgrade()), "websocket"),
		version:    string(r.Header("Sec-WebSocket-Version")),
		key:        string(r.Header("Sec-WebSocket-Key")),
		origin:     string(r.Header("Origin")),
		host:       string(r.Host()),
	}
	for v := range r.HeaderValues("Sec-WebSocket-Protocol") {
		req.protocols = append(req.protocols, string(v))
	}
	for v := range r.HeaderValues("Sec-WebSocket-Extensions") {
		req.extensions = append(req.extensions, string(v))
	}
	accept, proto, ext, d, herr := u.check(&req)
	if herr != nil {
		u.stats.refused.Add(1)
		h := w.Header()
		if herr.status == http.StatusUpgradeRequired {
			h.Set("Upgrade", "websocket")
			h.Set("Connection", "Upgrade")
			h.Set("Sec-WebSocket-Version", "13")
		}
		w.WriteHeader(herr.status)
		h.Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteString(herr.why + "\n")
		return nil, herr
	}
	d = u.budget(r.Loop(), d, &ext)
	c := u.newConn(proto, ext, d)
	h := w.Header()
	h.Set("Sec-WebSocket-Accept", accept)
	if proto != "" {
		h.Set("Sec-WebSocket-Protocol", proto)
	}
	if ext != "" {
		h.Set("Sec-WebSocket-Extensions", ext)
	}
	hd := handler
	hd.OnOpen = c.openServer
	if err := w.Upgrade("websocket", hd); err != nil {
		// A handshake with a body, for one: answer it as refused.
		h.Del("Sec-WebSocket-Accept")
		h.Del("Sec-WebSocket-Protocol")
		h.Del("Sec-WebSocket-Extensions")
		if !w.HeadSent() {
			w.WriteHeader(http.StatusBadRequest)
			w.WriteString("cannot upgrade: " + err.Error() + "\n")
		}
		u.stats.refused.Add(1)
		return nil, fmt.Errorf("%w: %w", ErrHandshake, err)
	}
	u.stats.upgraded.Add(1)
	return c, nil
}

// budget declines a client's context (client_no_context_takeover) when
// the loop's windows would pass ContextTakeoverBudget.
func (u *Upgrader) budget(l *eddy.Loop, d deflateParams, ext *string) deflateParams {
	if *ext == "" || d.clientNoContext {
		return d
	}
	if stateOf(l).windows+(1<<d.clientBits) <= u.cfg.ContextTakeoverBudget {
		return d
	}
	// Over budget: answer again without the context.
	d.clientNoContext = true
	s, _, _ := strings.Cut(*ext, "; client_max_window_bits")
	*ext = s + "; client_no_context_takeover"
	return d
}

// ServeHTTP1 makes the Upgrader an evhttp.Handler that upgrades every
// request (see Upgrade).
func (u *Upgrader) ServeHTTP1(w *evhttp.ResponseWriter, r *evhttp.Request) {
	u.Upgrade(w, r)
}

// UpgradeHTTP answers a WebSocket handshake in a standard http.Handler
// served by evhttp.Adapt: it checks the request and, through
// evhttp.UpgradeAdapted, sends the 101 and hands the connection, on its
// loop, TLS included, to a *Conn with the Upgrader's Handler; the
// handler's goroutine may return at once. A refused handshake is
// answered with its status, as Upgrade does. The error tells why the
// connection was not upgraded (evhttp.ErrNotAdapted under a server other
// than the adapter); OnOpen runs on the connection's loop once it is.
// Frames the client sent before it received the 101 are read first, as
// the ones after. A client's compression context is always declined
// here, since its budget is the loop's, which the handler's goroutine
// cannot read (Upgrade, from a native handler, takes it within the
// budget).
func (u *Upgrader) UpgradeHTTP(w http.ResponseWriter, r *http.Request) error {
	req := request{
		method:     r.Method,
		protoMinor: r.ProtoMinor,
		upgrade: hasToken(r.Header.Get("Upgrade"), "websocket") &&
			hasToken(strings.Join(r.Header.Values("Connection"), ","), "upgrade") && r.ProtoMajor == 1,
		version:    r.Header.Get("Sec-WebSocket-Version"),
		key:        r.Header.Get("Sec-WebSocket-Key"),
		origin:     r.Header.Get("Origin"),
		host:       r.Host,
		protocols:  r.Header.Values("Sec-WebSocket-Protocol"),
		extensions: r.Header.Values("Sec-WebSocket-Extensions"),
	}
	accept, proto, ext, d, herr := u.check(&req)
	if herr != nil {
		u.stats.refused.Add(1)
		if herr.status == http.StatusUpgradeRequired {
			w.Header().Set("Upgrade", "websocket")
			w.Header().Set("Connection", "Upgrade")
			w.Header().Set("Sec-WebSocket-Version", "13")
		}
		http.Error(w, herr.why, herr.status)
		return herr
	}
	if d.clientBits != 0 && !d.clientNoContext {
		d.clientNoContext = true
		s, _, _ := strings.Cut(ext, "; client_max_window_bits")
		ext = s + "; client_no_context_takeover"
	}
	c := u.newConn(proto, ext, d)
	// The names as RFC 6455 spells them (the map's keys are written as
	// they are), not as http.Header's canonical form would.
	h := w.Header()
	h["Sec-WebSocket-Accept"] = []string{accept}
	if proto != "" {
		h["Sec-WebSocket-Protocol"] = []string{proto}
	}
	if ext != "" {
		h["Sec-WebSocket-Extensions"] = []string{ext}
	}
	hd := handler
	hd.OnOpen = c.openServer
	if err := evhttp.UpgradeAdapted(w, "websocket", hd); err != nil {
		delete(h, "Sec-WebSocket-Accept")
		delete(h, "Sec-WebSocket-Protocol")
		delete(h, "Sec-WebSocket-Extensions")
		http.Error(w, "cannot upgrade: "+err.Error(), http.StatusBadRequest)
		u.stats.refused.Add(1)
		return fmt.Errorf("%w: %w", ErrHandshake, err)
	}
	u.stats.upgraded.Add(1)
	return nil
}
