package evnet

// Connections that do not come from a listener: Dial (a nonblocking
// connect with a timeout) and Adopt (a descriptor the program hands over).

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/internal/sock"
)

// Dialer holds the options of Dial. Its zero value dials with no timeout
// and the default ConnConfig.
type Dialer struct {
	// Timeout bounds the connect; zero means none (the kernel's own).
	Timeout time.Duration
	// Conn applies to the connection.
	Conn ConnConfig
	// TLS, if not nil, makes the connection a TLS client connection (see
	// TLSConfig): OnOpen runs once the handshake is done, and the
	// handler sees plaintext. Without a ServerName in TLS.Config, the
	// host of a TCP address is used, as tls.Dial does.
	TLS *TLSConfig
}

// Dial connects to address with a nonblocking connect, using a Dialer with
// the given timeout. See Dialer.Dial.
func Dial(l *eddy.Loop, network, address string, timeout time.Duration, h Handler) (*Conn, error) {
	return Dialer{Timeout: timeout}.Dial(l, network, address, h)
}

// Dial starts connecting to address and returns the connection at once,
// on the loop's goroutine. The network is "tcp", "tcp4", "tcp6" (a literal
// "IP:port") or "unix" (a path, or "@name"). When the connect completes,
// OnOpen runs; if it fails or times out, OnClose runs (without OnOpen)
// with the reason. Writes made before that are queued and sent once
// connected. An error is returned only if the connect could not start.
func (d Dialer) Dial(l *eddy.Loop, network, address string, h Handler) (*Conn, error) {
	var (
		sa     unix.Sockaddr
		family int
		err    error
	)
	switch network {
	case "tcp", "tcp4", "tcp6":
		if strings.HasPrefix(address, ":") {
			return nil, fmt.Errorf("evnet: dial %s: missing host", address)
		}
		ap, perr := parseAddrPort(network, address)
		if perr != nil {
			return nil, perr
		}
		sa, family, err = sock.Sockaddr(ap)
	case "unix":
		sa, err = sock.UnixSockaddr(address)
		family = unix.AF_UNIX
	default:
		err = fmt.Errorf("unknown network %q", network)
	}
	if err != nil {
		return nil, fmt.Errorf("evnet: dial: %w", err)
	}
	fd, _, err := sock.Connect(family, sa, d.Conn.buffers())
	if err != nil {
		return nil, fmt.Errorf("evnet: dial %s %s: %w", network, address, err)
	}
	o := d.Conn
	if family == unix.AF_UNIX {
		o.Delay = true // nothing to set
	}
	sh := &shared{h: h, o: o.withDefaults(), ls: acquire(l)}
	if d.TLS != nil {
		sh.tls = d.TLS.client(network, address)
	}
	c := newConn(sh, fd)
	c.flags |= fConnecting
	if err := c.start(eddy.Write); err != nil {
		sh.ls.release()
		unix.Close(fd)
		return nil, fmt.Errorf("evnet: dial: %w", err)
	}
	sh.ls.release() // start took its own reference
	if d.Timeout > 0 {
		t := c.timing()
		t.connDL = sh.ls.after(d.Timeout)
		sh.ls.schedule(c)
	}
	return c, nil
}

// Adopt makes a connection of fd, an open descriptor the program hands
// over: a connected socket, a pipe, a child's stdio, or the dup of a
// net.Conn's or os.File's descriptor. It is made nonblocking; from here on
// the connection owns it and closes it (removing its registration first,
// since a copy may remain elsewhere). OnOpen runs before Adopt returns.
// cfg (nil for the defaults) sets its limits. Adopt must be called on the
// loop's goroutine.
func Adopt(l *eddy.Loop, fd int, h Handler, cfg *ConnConfig) (*Conn, error) {
	var o ConnConfig
	if cfg != nil {
		o = *cfg
	}
	if fd < 0 {
		return nil, errors.New("evnet: adopt: negative descriptor")
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		return nil, fmt.Errorf("evnet: adopt: %w", err)
	}
	if !o.Delay {
		unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1) // fails on non-TCP: fine
	}
	sh := &shared{h: h, o: o.withDefaults(), ls: acquire(l)}
	c := newConn(sh, fd)
	c.flags |= fShared // the program's descriptor: a copy may be left somewhere
	err := c.start(eddy.Read)
	sh.ls.release()
	if err != nil {
		return nil, fmt.Errorf("evnet: adopt: %w", err)
	}
	c.open()
	return c, nil
}
