package evnet_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"math/big"
	"net"
	"time"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evnet"
)

// A TLS echo server: the handler is the plain echo's, and sees plaintext;
// OnOpen runs after the handshake, when the negotiated protocol is known.
// The client here is crypto/tls's, on a goroutine of the program's.
func ExampleListenConfig_tls() {
	cert, roots := exampleCert()
	l, err := eddy.NewLoop(nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()

	var ln *evnet.Listener
	echo := evnet.Handler{
		OnOpen: func(c *evnet.Conn) {
			st, _ := c.TLSState()
			fmt.Printf("server: %s, ALPN %q\n", tls.VersionName(st.Version), st.NegotiatedProtocol)
		},
		OnData: func(c *evnet.Conn, p []byte) int {
			c.Write(p) // encrypted on its way out
			return len(p)
		},
		OnClose: func(c *evnet.Conn, reason error) {
			fmt.Println("server:", reason)
			ln.Close()
		},
	}
	lc := evnet.ListenConfig{TLS: &evnet.TLSConfig{Config: &tls.Config{
		Certificates: []tls.Certificate{cert},
		NextProtos:   []string{"echo/1"},
	}}}
	ln, err = lc.Listen(l, "tcp", "127.0.0.1:0", echo)
	if err != nil {
		fmt.Println(err)
		return
	}

	go func() {
		c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: roots, NextProtos: []string{"echo/1"}})
		if err != nil {
			fmt.Println(err)
			return
		}
		c.Write([]byte("hello over TLS"))
		buf := make([]byte, 14)
		io.ReadFull(c, buf)
		fmt.Printf("client: %q\n", buf)
		c.Close() // close_notify: the server's EOF
	}()
	l.Run()
	// Output:
	// server: TLS 1.3, ALPN "echo/1"
	// client: "hello over TLS"
	// server: evnet: connection closed by peer
}

// A TLS client on the loop: Dialer.TLS makes the connection TLS, the
// server's name for SNI and verification coming from the address
// (here an IP address, which the certificate names). Writes made before
// the handshake is done are sent after it. The server is crypto/tls's.
func ExampleDialer_tls() {
	cert, roots := exampleCert()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ln.Close()
	go func() { // an echo server, a goroutine per connection
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(c, c)
	}()

	l, err := eddy.NewLoop(nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()
	client := evnet.Handler{
		OnOpen: func(c *evnet.Conn) {
			st, _ := c.TLSState()
			fmt.Println("client: verified", st.PeerCertificates[0].Subject.CommonName)
		},
		OnData: func(c *evnet.Conn, p []byte) int {
			fmt.Printf("client: %q\n", p)
			c.Close() // close_notify, then the socket
			return len(p)
		},
		OnClose: func(c *evnet.Conn, reason error) { fmt.Println("client:", reason) },
	}
	d := evnet.Dialer{Timeout: 5 * time.Second, TLS: &evnet.TLSConfig{Config: &tls.Config{RootCAs: roots}}}
	c, err := d.Dial(l, "tcp", ln.Addr().String(), client)
	if err != nil {
		fmt.Println(err)
		return
	}
	c.Write([]byte("written before the handshake"))
	l.Run()
	// Output:
	// client: verified example server
	// client: "written before the handshake"
	// client: evnet: closed locally
}

// exampleCert returns a self-signed ECDSA P-256 certificate for 127.0.0.1
// and a pool that trusts it.
func exampleCert() (tls.Certificate, *x509.CertPool) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		IsCA:         true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
	}
	tmpl.Subject.CommonName = "example server"
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}
