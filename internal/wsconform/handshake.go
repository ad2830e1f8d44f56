package wsconform

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

func acceptKey(key string) string {
	h := sha1.Sum([]byte(key + wsGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

// dial opens a connection to u (ws:// or wss://) and performs the opening
// handshake (RFC 6455 4.1) with the given permessage-deflate offers.
// note says how the server's answer bends RFC 7692, if it does.
func dial(ctx context.Context, u *url.URL, tlsConf *tls.Config, offers []ext) (c *conn, note string, err error) {
	host := u.Host
	if u.Port() == "" {
		if u.Scheme == "wss" {
			host += ":443"
		} else {
			host += ":80"
		}
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, "", err
	}
	if u.Scheme == "wss" {
		conf := tlsConf.Clone()
		if conf == nil {
			conf = &tls.Config{}
		}
		if conf.ServerName == "" {
			conf.ServerName = u.Hostname()
		}
		tc := tls.Client(nc, conf)
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, "", fmt.Errorf("TLS: %w", err)
		}
		nc = tc
	}
	if dl, ok := ctx.Deadline(); ok {
		nc.SetDeadline(dl)
	}
	var kb [16]byte
	rand.Read(kb[:])
	key := base64.StdEncoding.EncodeToString(kb[:])
	path := u.RequestURI()
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n", path, u.Host)
	fmt.Fprintf(&b, "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n", key)
	if len(offers) > 0 {
		var os []string
		for _, o := range offers {
			os = append(os, o.String())
		}
		fmt.Fprintf(&b, "Sec-WebSocket-Extensions: %s\r\n", strings.Join(os, ", "))
	}
	b.WriteString("\r\n")
	if _, err := nc.Write([]byte(b.String())); err != nil {
		nc.Close()
		return nil, "", err
	}
	br := bufio.NewReaderSize(nc, 64<<10)
	resp, err := http.ReadResponse(br, &http.Request{Method: "GET"})
	if err != nil {
		nc.Close()
		return nil, "", fmt.Errorf("handshake response: %w", err)
	}
	fail := func(format string, args ...any) (*conn, string, error) {
		nc.Close()
		return nil, "", fmt.Errorf("handshake: "+format, args...)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return fail("status %s", resp.Status)
	}
	if !strings.EqualFold(resp.Header.Get("Upgrade"), "websocket") {
		return fail("Upgrade: %q", resp.Header.Get("Upgrade"))
	}
	if !headerHasToken(resp.Header, "Connection", "upgrade") {
		return fail("Connection: %q", resp.Header.Get("Connection"))
	}
	if got := resp.Header.Get("Sec-WebSocket-Accept"); got != acceptKey(key) {
		return fail("Sec-WebSocket-Accept %q, want %q", got, acceptKey(key))
	}
	if p := resp.Header.Get("Sec-WebSocket-Protocol"); p != "" {
		return fail("subprotocol %q chosen, none offered (RFC 6455 4.1)", p)
	}
	answer, err := parseExtensions(resp.Header.Values("Sec-WebSocket-Extensions"))
	if err != nil {
		return fail("%v", err)
	}
	if len(offers) == 0 && len(answer) > 0 {
		return fail("extensions %v accepted, none offered", answer)
	}
	pmd, note, err := negotiateClient(offers, answer)
	if err != nil {
		return fail("%v", err)
	}
	nc.SetDeadline(time.Time{})
	return newConn(nc, br, true, pmd), note, nil
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// upgrade performs the server's side of the opening handshake for the
// mirror, answering deflate offers with set (nil: no extension).
func upgrade(w http.ResponseWriter, r *http.Request, set *pmdSet) (*conn, error) {
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") || !headerHasToken(r.Header, "Connection", "upgrade") {
		http.Error(w, "not a WebSocket handshake", http.StatusBadRequest)
		return nil, fmt.Errorf("not a WebSocket handshake: Upgrade %q, Connection %q", r.Header.Get("Upgrade"), r.Header.Get("Connection"))
	}
	if v := r.Header.Get("Sec-WebSocket-Version"); v != "13" {
		w.Header().Set("Sec-WebSocket-Version", "13")
		http.Error(w, "version", http.StatusUpgradeRequired)
		return nil, fmt.Errorf("Sec-WebSocket-Version %q", v)
	}
	key := r.Header.Get("Sec-WebSocket-Key")
	if kb, err := base64.StdEncoding.DecodeString(key); err != nil || len(kb) != 16 {
		http.Error(w, "key", http.StatusBadRequest)
		return nil, fmt.Errorf("Sec-WebSocket-Key %q", key)
	}
	var answer string
	var pmd *deflateState
	if set != nil {
		offers, err := parseExtensions(r.Header.Values("Sec-WebSocket-Extensions"))
		if err != nil {
			http.Error(w, "extensions", http.StatusBadRequest)
			return nil, err
		}
		answer, pmd = negotiateServer(offers, *set)
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		return nil, fmt.Errorf("cannot hijack")
	}
	nc, brw, err := hj.Hijack()
	if err != nil {
		return nil, err
	}
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + acceptKey(key) + "\r\n"
	if answer != "" {
		resp += "Sec-WebSocket-Extensions: " + answer + "\r\n"
	}
	if _, err := nc.Write([]byte(resp + "\r\n")); err != nil {
		nc.Close()
		return nil, err
	}
	return newConn(nc, brw.Reader, false, pmd), nil
}
