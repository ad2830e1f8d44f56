package evclient

// Protocol upgrades (RFC 9110 §7.8): a request that offers other
// protocols, a 101 Switching Protocols, then the connection handed over to
// the program, which gives it to the new protocol's evnet callbacks.
//
// Before the switch. prepare marks a request whose Connection field has
// the upgrade option and whose Upgrade field names protocols
// (call.upgrade) and refuses one that has only half of that, or that was given to Do or
// to a Stream without OnUpgrade, which would have nowhere to put the
// connection. Such a request is not pipelined, and nothing is pipelined
// behind it (pipelinable), so it is alone on its connection: whatever
// follows its response on the wire is the new protocol's or the next
// response's, never another request's. It is retried and redirected as
// any request: a retry happens only when no byte of a response came, so no
// server switched for it.
//
// The switch. onHead gives the 101 to switchProtocols, which checks it
// (the request offered an upgrade, the 101 names only protocols it
// offered, and the whole request was sent, so that no byte of the request
// is left to follow the new protocol's) and lets go of the connection: it
// leaves its host's pool and the client's counts, its idle and write
// timeouts stop, and evnet gets a stand-in handler that keeps the input
// (holdInput) until the program sets its own. The call ends: OnUpgrade
// runs with the response and the connection, then OnDone with nil.
// onData then returns the bytes of the head alone as consumed: the rest
// of what was read, which a server may send in the same segment as its
// 101, stays in evnet's buffer, and evnet offers it to the handler the
// program sets (Conn.SetHandler) before anything read later.

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/eddyloop/eddy/evhttp/internal/h1"
	"github.com/eddyloop/eddy/evnet"
	"github.com/eddyloop/eddy/internal/ascii"
)

// checkUpgrade refuses an upgrade request that cannot work: half of one
// (Upgrade without the upgrade option in Connection, or the other way
// round), or one with nowhere to hand the connection to.
func (call *Call) checkUpgrade(offer string, connUpgrade bool) error {
	call.upgrade = offer != "" && connUpgrade
	switch {
	case offer == "" && !connUpgrade:
		return nil
	case offer == "":
		return fmt.Errorf("%w: Connection: upgrade without an Upgrade field", ErrRequest)
	case !connUpgrade:
		return fmt.Errorf("%w: an Upgrade field needs the upgrade option in Connection", ErrRequest)
	case call.gather:
		return fmt.Errorf("%w: an upgrade request (Upgrade: %s) needs Client.Stream with Handler.OnUpgrade, not Do", ErrRequest, offer)
	case call.h.OnUpgrade == nil:
		return fmt.Errorf("%w: an upgrade request (Upgrade: %s) needs Handler.OnUpgrade", ErrRequest, offer)
	}
	return nil
}

// switchProtocols handles a 101 answering call, the front call of cc:
// it hands the connection over to the program, or fails the call.
func (cc *conn) switchProtocols(call *Call, head []byte) {
	proto := cc.resp.Headers.Get("Upgrade")
	offer := call.req.upgradeOffer()
	switch {
	case !call.upgrade:
		call.fail(fmt.Errorf("%w: unexpected 101 Switching Protocols", ErrMalformed))
		return
	case cc.writer == call || call.waitContinue:
		call.fail(fmt.Errorf("%w: 101 Switching Protocols before the request body was sent", ErrUpgrade))
		return
	case !offered(offer, proto):
		call.fail(fmt.Errorf("%w: 101 Switching Protocols to %q, offered %q", ErrUpgrade, proto, offer))
		return
	}
	c, h, nc := cc.client, cc.host, cc.nc

	// The response: its head; no body follows.
	call.gotHead = true
	resp := &call.resp
	resp.Status, resp.ProtoMinor, resp.ContentLength = 101, cc.resp.Minor, 0
	resp.URL, resp.Redirects = call.req.URL, call.redirects
	resp.head = bytes.Clone(head)

	// The connection leaves the client: the pool, the counts, the
	// timeouts, the callbacks.
	cc.upgraded = true
	cc.state = connClosed
	cc.calls, cc.writer, cc.inBody = nil, nil, false
	h.removeConn(cc)
	c.stats.Upgrades++
	nc.SetIdleTimeout(0)
	nc.SetWriteTimeout(0)
	nc.SetHandler(evnet.Handler{OnData: holdInput})

	// The call ends, with the connection in the program's hands.
	call.state = callDone
	call.conn = nil
	call.timer.Stop()
	call.h.OnUpgrade(call, resp, nc)
	if call.h.OnDone != nil {
		call.h.OnDone(call, nil)
	}
	h.schedule() // a connection less: a waiting call may dial
}

// upgradeOffer returns the protocols the request's Upgrade field offers,
// or "". It is looked up again at the 101 rather than kept in the Call
// from prepare, which would cost every call 16 bytes.
func (r *Request) upgradeOffer() string {
	offer := ""
	for k, vs := range r.Header {
		if len(vs) > 0 && ascii.EqualFold(k, "Upgrade") {
			offer = strings.Join(vs, ", ")
			break
		}
	}
	rawFields(r.RawHeader, func(name, value []byte) bool {
		if ascii.EqualFold(name, "Upgrade") {
			if offer != "" {
				offer += ", "
			}
			offer += string(value)
		}
		return true
	})
	return offer
}

// holdInput is the OnData of a handed-over connection until the program
// sets its handler: it keeps the input (up to the connection's
// MaxBuffered) for that handler's OnData.
func holdInput(*evnet.Conn, []byte) int { return 0 }

// offered reports whether the protocols of a 101's Upgrade field, a
// comma-separated list, are all among those of offer (the request's
// Upgrade field), without regard to ASCII case; an empty list is not.
func offered(offer string, upgrade []byte) bool {
	got := false
	for len(upgrade) > 0 {
		var p []byte
		p, upgrade, _ = bytes.Cut(upgrade, []byte{','})
		p = bytes.Trim(p, " \t")
		if len(p) == 0 {
			continue
		}
		if !h1.HasToken([]byte(offer), string(p)) {
			return false
		}
		got = true
	}
	return got
}
