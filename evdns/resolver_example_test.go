package evdns_test

import (
	"fmt"
	"net"
	"net/netip"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evdns"
)

// exampleServer is a tiny DNS server on 127.0.0.1 for the example: it
// knows www.example.com and mail.example.com, and says NXDOMAIN for the
// rest. It stops when stop is called.
func exampleServer() (addr netip.AddrPort, stop func()) {
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	h := func(name string, t dnsmessage.Type) dnsmessage.ResourceHeader {
		return dnsmessage.ResourceHeader{Name: dnsmessage.MustNewName(name), Type: t, Class: dnsmessage.ClassINET, TTL: 300}
	}
	records := map[string][]dnsmessage.Resource{
		"www.example.com.": {
			{Header: h("www.example.com.", dnsmessage.TypeA), Body: &dnsmessage.AResource{A: [4]byte{192, 0, 2, 1}}},
			{Header: h("www.example.com.", dnsmessage.TypeAAAA), Body: &dnsmessage.AAAAResource{AAAA: netip.MustParseAddr("2001:db8::1").As16()}},
		},
		"example.com.": {
			{Header: h("example.com.", dnsmessage.TypeMX), Body: &dnsmessage.MXResource{Pref: 10, MX: dnsmessage.MustNewName("mail.example.com.")}},
		},
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			var m dnsmessage.Message
			if m.Unpack(buf[:n]) != nil || len(m.Questions) != 1 {
				continue
			}
			q := m.Questions[0]
			rrs, ok := records[q.Name.String()]
			resp := dnsmessage.Message{Header: dnsmessage.Header{ID: m.ID, Response: true, RecursionAvailable: true}, Questions: m.Questions}
			if !ok {
				resp.RCode = dnsmessage.RCodeNameError
			}
			for _, rr := range rrs {
				if rr.Header.Type == q.Type {
					resp.Answers = append(resp.Answers, rr)
				}
			}
			b, _ := resp.Pack()
			pc.WriteTo(b, from)
		}
	}()
	return pc.LocalAddr().(*net.UDPAddr).AddrPort(), func() { pc.Close(); <-done }
}

// A Resolver on a loop: lookups take a callback, which runs on the loop.
// The loop runs while lookups are in progress; here Run returns when the
// last one has called back.
func ExampleResolver() {
	server, stop := exampleServer()
	defer stop()

	l, err := eddy.NewLoop(nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()

	conf := evdns.DefaultConfig()
	conf.Servers = []netip.AddrPort{server}
	conf.Search = []string{"example.com"}
	conf.Timeout = time.Second
	r := evdns.NewResolver(l, conf, nil, nil)
	defer r.Close()

	r.LookupHost("www", func(addrs []netip.Addr, err error) {
		fmt.Println("www:", addrs, err)
		// The answer is cached now: this callback runs at once.
		r.LookupHost("www", func(addrs []netip.Addr, err error) {
			fmt.Println("www again:", addrs, err, "cache hits:", r.Stats().CacheHits)
		})
	})
	r.Lookup("example.com.", dnsmessage.TypeMX, func(a *evdns.Answer, err error) {
		if err != nil {
			fmt.Println(err)
			return
		}
		for _, rr := range a.Records {
			mx := rr.Body.(*dnsmessage.MXResource)
			fmt.Println("mx:", mx.Pref, mx.MX)
		}
	})
	r.LookupHost("nowhere.example.com.", func(addrs []netip.Addr, err error) {
		fmt.Println(err)
	})
	if err := l.Run(); err != nil {
		fmt.Println(err)
	}
	// Unordered output:
	// www: [192.0.2.1 2001:db8::1] <nil>
	// www again: [192.0.2.1 2001:db8::1] <nil> cache hits: 1
	// mx: 10 mail.example.com.
	// evdns: lookup nowhere.example.com.: no such host
}
