package evhttp

// UpgradeAdapted: ResponseWriter.Upgrade for a standard http.Handler served
// by Adapt. The handler's side asks the loop through the outbox; the loop
// runs the native exchange's Upgrade, so that the connection, TLS state
// and all, stays on its loop and goes to an evnet handler.

import (
	"errors"
	"net/http"

	"github.com/eddyloop/eddy/evnet"
)

// ErrNotAdapted is returned by UpgradeAdapted for a ResponseWriter that is
// not one Adapt gave its handler.
var ErrNotAdapted = errors.New("evhttp: the ResponseWriter is not the adapter's")

// UpgradeAdapted is ResponseWriter.Upgrade for an http.Handler served by
// Adapt: w must be the ResponseWriter the adapter gave the handler, and
// the handler calls UpgradeAdapted from its goroutine. It answers "101
// Switching Protocols" with "Upgrade: proto", "Connection: Upgrade" and
// the fields set in w.Header() (but Upgrade and Connection), and hands the
// connection to h on its loop, where h's callbacks run as Upgrade
// documents. Unlike Hijack, which takes the descriptor off the loop for a
// net.Conn of Go's own, the connection stays where it is, its TLS state
// included: this is the way for a handler to switch a TLS connection to
// another protocol handled on the loop (evws.Upgrader.UpgradeHTTP uses
// it).
//
// It waits for the loop to have made the switch, and returns nil, or
// Upgrade's error (ErrNotUpgrade when the request did not offer proto),
// ErrHeadSent when the status was written already, http.ErrBodyNotAllowed
// when body bytes were, http.ErrHijacked after Hijack or an earlier
// UpgradeAdapted, or ErrNotAdapted. After a switch w is hijacked: its
// writes fail and the adapter sends nothing when the handler returns.
func UpgradeAdapted(w http.ResponseWriter, proto string, h evnet.Handler) error {
	rw, ok := w.(*adWriter)
	if !ok {
		return ErrNotAdapted
	}
	if err := rw.usable(); err != nil {
		return err
	}
	switch {
	case rw.wroteHeader:
		return ErrHeadSent
	case rw.written > 0:
		return http.ErrBodyNotAllowed
	}
	var fields []adField
	for name, values := range rw.header {
		if name == "Upgrade" || name == "Connection" {
			continue
		}
		for _, v := range values {
			fields = append(fields, adField{name: name, value: v})
		}
	}
	ar := rw.ar
	res := make(chan error, 1)
	ar.push(adEntry{op: adCall, f: func() { ar.upgrade(proto, fields, h, res) }})
	var err error
	select {
	case err = <-res:
	case <-ar.goneChan():
		select {
		case err = <-res:
		default:
			err = ar.goneErr
		}
	}
	if err == nil {
		rw.hijacked = true
	}
	return err
}

// upgrade is UpgradeAdapted's side on the loop: it sends its result on
// res, once. The native Upgrade may end the exchange before it returns
// (onDone, which closes gone): onDone then sends the result first, so
// that a handler woken by gone finds it (ar.upgradeRes).
func (ar *adReq) upgrade(proto string, fields []adField, h evnet.Handler, res chan<- error) {
	if ar.over || ar.hijacked {
		if ar.goneErr != nil {
			res <- ar.goneErr
		} else {
			res <- ErrEnded
		}
		return
	}
	hdr := ar.w.Header()
	for _, f := range fields {
		hdr.Add(f.name, f.value) // an invalid field is dropped, as in any response
	}
	ar.upgradeRes = res
	err := ar.w.Upgrade(proto, h)
	if err != nil {
		for _, f := range fields {
			hdr.Del(f.name)
		}
	} else {
		ar.hijacked = true
	}
	if r := ar.upgradeRes; r != nil {
		ar.upgradeRes = nil
		r <- err
	}
}
