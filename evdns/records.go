package evdns

import (
	"net/netip"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/eddyloop/eddy/internal/ascii"
)

// MaxCNAMEHops is the longest CNAME chain a lookup follows, counting the
// aliases in the answers and the queries made for the targets of chains
// that an answer left unfinished.
const MaxCNAMEHops = 8

// EDNSBufferSize is the UDP payload size advertised in the EDNS0 OPT
// record of every query: 1232 bytes, the size that DNS Flag Day 2020
// recommends because it avoids IP fragmentation on every usual path.
const EDNSBufferSize = 1232

// Answer is the result of Lookup. An Answer may be shared with the cache
// and with other callbacks: it, its slices and its records are read-only.
type Answer struct {
	// Name is the fully qualified name (with its trailing dot) that was
	// asked and answered: the search list candidate that succeeded.
	Name string
	// Type is the type asked for.
	Type dnsmessage.Type
	// CNAMEs are the targets of the CNAME chain followed from Name, in
	// order: the last one is the canonical name that owns the records.
	// It is empty when Name owns the records itself, and always for
	// Type CNAME, whose chain is not followed.
	CNAMEs []string
	// Records are the answer records of Type owned by the canonical name,
	// in the order of the answer, as parsed by dnsmessage: the Body of each
	// is an *AResource, *MXResource, *SRVResource, ... according to Type.
	Records []dnsmessage.Resource
	// Addrs are the addresses of the A or AAAA records, for those types.
	Addrs []netip.Addr
	// Expires is when the answer leaves the cache: the time of the answer
	// plus the smallest TTL of the records and of the CNAMEs followed.
	Expires time.Time
}

// Canonical returns the name that owns the records: the last CNAME target,
// or Name when there is no chain.
func (a *Answer) Canonical() string {
	if len(a.CNAMEs) > 0 {
		return a.CNAMEs[len(a.CNAMEs)-1]
	}
	return a.Name
}

// ReverseName returns the name whose PTR records map addr to its names:
// "d.c.b.a.in-addr.arpa." for an IPv4 address (IPv4-mapped IPv6 addresses
// included) and the 32 nibbles under "ip6.arpa." for IPv6. It returns ""
// for the zero Addr. A zone is ignored.
func ReverseName(addr netip.Addr) string {
	if !addr.IsValid() {
		return ""
	}
	addr = addr.Unmap()
	var b strings.Builder
	if addr.Is4() {
		a := addr.As4()
		b.Grow(29)
		for i := 3; i >= 0; i-- {
			b.WriteString(strconv.Itoa(int(a[i])))
			b.WriteByte('.')
		}
		b.WriteString("in-addr.arpa.")
		return b.String()
	}
	const hex = "0123456789abcdef"
	a := addr.As16()
	b.Grow(73)
	for i := 15; i >= 0; i-- {
		b.WriteByte(hex[a[i]&0xf])
		b.WriteByte('.')
		b.WriteByte(hex[a[i]>>4])
		b.WriteByte('.')
	}
	b.WriteString("ip6.arpa.")
	return b.String()
}

// nameIs reports whether n is the fully qualified name fqdn, compared
// case-insensitively as DNS names are.
func nameIs(n dnsmessage.Name, fqdn string) bool {
	return ascii.EqualFold(n.Data[:n.Length], fqdn)
}

// follow finds the records of qtype for name in an answer section,
// following the CNAME chain from name that the section holds (unless
// qtype is CNAME). It returns the records, the chain's targets, the
// name reached (the last target, or name) and the smallest TTL of the
// records and CNAMEs used. A chain that loops or is longer than hops
// allows stops where it is, with loop set.
func follow(answers []dnsmessage.Resource, name string, qtype dnsmessage.Type, hops int) (recs []dnsmessage.Resource, cnames []string, target string, ttl uint32, loop bool) {
	ttl = ^uint32(0)
	target = name
	for {
		for _, rr := range answers {
			if rr.Header.Type == qtype && rr.Header.Class == dnsmessage.ClassINET && nameIs(rr.Header.Name, target) {
				recs = append(recs, rr)
				ttl = min(ttl, rr.Header.TTL)
			}
		}
		if len(recs) > 0 || qtype == dnsmessage.TypeCNAME {
			return recs, cnames, target, ttl, false
		}
		next := ""
		for _, rr := range answers {
			if rr.Header.Type == dnsmessage.TypeCNAME && rr.Header.Class == dnsmessage.ClassINET && nameIs(rr.Header.Name, target) {
				if c, ok := rr.Body.(*dnsmessage.CNAMEResource); ok {
					next = c.CNAME.String()
					ttl = min(ttl, rr.Header.TTL)
					break
				}
			}
		}
		if next == "" {
			return nil, cnames, target, ttl, false
		}
		if len(cnames) >= hops || ascii.EqualFold(next, name) {
			return nil, cnames, target, ttl, true
		}
		for _, c := range cnames {
			if ascii.EqualFold(c, next) {
				return nil, cnames, target, ttl, true
			}
		}
		cnames = append(cnames, next)
		target = next
	}
}

// addrsOf returns the addresses of the A and AAAA records of recs.
func addrsOf(recs []dnsmessage.Resource, dst []netip.Addr) []netip.Addr {
	for _, rr := range recs {
		switch b := rr.Body.(type) {
		case *dnsmessage.AResource:
			dst = append(dst, netip.AddrFrom4(b.A))
		case *dnsmessage.AAAAResource:
			dst = append(dst, netip.AddrFrom16(b.AAAA))
		}
	}
	return dst
}

// buildQuery returns a query message for name and qtype with recursion
// desired and an EDNS0 OPT record (EDNSBufferSize). The ID is zero: each
// attempt writes its own into the first two bytes.
func buildQuery(name dnsmessage.Name, qtype dnsmessage.Type, ad bool) ([]byte, error) {
	b := dnsmessage.NewBuilder(make([]byte, 0, 64), dnsmessage.Header{RecursionDesired: true, AuthenticData: ad})
	b.EnableCompression()
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(dnsmessage.Question{Name: name, Type: qtype, Class: dnsmessage.ClassINET}); err != nil {
		return nil, err
	}
	if err := b.StartAdditionals(); err != nil {
		return nil, err
	}
	var rh dnsmessage.ResourceHeader
	if err := rh.SetEDNS0(EDNSBufferSize, dnsmessage.RCodeSuccess, false); err != nil {
		return nil, err
	}
	if err := b.OPTResource(rh, dnsmessage.OPTResource{}); err != nil {
		return nil, err
	}
	return b.Finish()
}

// response is a parsed answer that matched its query.
type response struct {
	rcode     dnsmessage.RCode
	truncated bool
	answers   []dnsmessage.Resource
	negTTL    uint32 // RFC 2308: min(SOA TTL, SOA MINIMUM) from the authority section
	hasSOA    bool
}

// parseResponse parses msg as the answer to the query with id, name and
// qtype. It returns ok false for anything that is not that answer: a
// malformed message, another ID, not a response, another question. The
// answer records are parsed only when the message is not truncated.
func parseResponse(msg []byte, id uint16, name string, qtype dnsmessage.Type) (resp response, ok bool) {
	var p dnsmessage.Parser
	h, err := p.Start(msg)
	if err != nil || h.ID != id || !h.Response || h.OpCode != 0 {
		return resp, false
	}
	q, err := p.Question()
	if err != nil || q.Type != qtype || q.Class != dnsmessage.ClassINET || !nameIs(q.Name, name) {
		return resp, false
	}
	if _, err := p.Question(); err != dnsmessage.ErrSectionDone {
		return resp, false
	}
	resp.rcode = h.RCode
	if h.Truncated {
		resp.truncated = true
		return resp, true
	}
	resp.answers, err = p.AllAnswers()
	if err != nil {
		return resp, false
	}
	for {
		rh, err := p.AuthorityHeader()
		if err == dnsmessage.ErrSectionDone {
			break
		}
		if err != nil {
			return resp, false
		}
		if rh.Type != dnsmessage.TypeSOA {
			if err := p.SkipAuthority(); err != nil {
				return resp, false
			}
			continue
		}
		soa, err := p.SOAResource()
		if err != nil {
			return resp, false
		}
		resp.negTTL = min(rh.TTL, soa.MinTTL)
		resp.hasSOA = true
	}
	return resp, true
}
