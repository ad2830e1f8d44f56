package main

// eddy resolve: a dig-like client of package evdns. It prints the answers
// one record per line as "NAME TTL TYPE DATA" and exits 0 when every name
// had an answer, 1 when one had none (NXDOMAIN or NODATA) and 2 on an
// error (the reason on stderr).

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evdns"
)

// resolveTypes maps the -type values to their DNS types.
var resolveTypes = map[string]dnsmessage.Type{
	"A": dnsmessage.TypeA, "AAAA": dnsmessage.TypeAAAA, "CNAME": dnsmessage.TypeCNAME,
	"MX": dnsmessage.TypeMX, "SRV": dnsmessage.TypeSRV, "TXT": dnsmessage.TypeTXT,
	"NS": dnsmessage.TypeNS, "SOA": dnsmessage.TypeSOA, "PTR": dnsmessage.TypePTR,
}

// anyTypes are the types asked for -type ANY: ANY queries themselves are
// deprecated (RFC 8482), so eddy asks for each common type and prints
// every answer.
var anyTypes = []dnsmessage.Type{
	dnsmessage.TypeA, dnsmessage.TypeAAAA, dnsmessage.TypeCNAME, dnsmessage.TypeMX,
	dnsmessage.TypeNS, dnsmessage.TypeTXT, dnsmessage.TypeSOA,
}

// hostTypes are the types asked when no -type is given: a host lookup.
var hostTypes = []dnsmessage.Type{dnsmessage.TypeA, dnsmessage.TypeAAAA}

// runResolve is "eddy resolve".
func runResolve(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("resolve", "[-type T] [-server IP:PORT] [-tcp] NAME... | -x ADDR", stderr)
	typ := fs.String("type", "", "ask for records of type `T`: A, AAAA, CNAME, MX, SRV, TXT, NS, SOA, PTR or ANY (default: A and AAAA)")
	server := fs.String("server", "", "ask the server at `IP:PORT` (default: the servers of /etc/resolv.conf)")
	tcp := fs.Bool("tcp", false, "query over TCP (resolv.conf's use-vc)")
	reverse := fs.String("x", "", "reverse lookup: the PTR records of `ADDR`")
	if status, ok := parseFlags(fs, args); !ok {
		return status
	}

	// The questions: one (name, types) per argument.
	type question struct {
		name  string
		types []dnsmessage.Type
	}
	var qs []question
	switch {
	case *reverse != "":
		if fs.NArg() > 0 || *typ != "" {
			return usageError(fs, "-x takes no NAME and no -type")
		}
		a, err := netip.ParseAddr(*reverse)
		if err != nil {
			return usageError(fs, "-x: %v", err)
		}
		qs = append(qs, question{evdns.ReverseName(a), []dnsmessage.Type{dnsmessage.TypePTR}})
	case fs.NArg() == 0:
		return usageError(fs, "no NAME given")
	default:
		types := hostTypes
		switch t := strings.ToUpper(*typ); t {
		case "":
		case "ANY":
			types = anyTypes
		default:
			qt, ok := resolveTypes[t]
			if !ok {
				return usageError(fs, "-type: unknown type %q", *typ)
			}
			types = []dnsmessage.Type{qt}
		}
		for _, n := range fs.Args() {
			qs = append(qs, question{n, types})
		}
	}

	var conf *evdns.Config
	if *server != "" {
		ap, err := netip.ParseAddrPort(*server)
		if err != nil {
			return usageError(fs, "-server: %v", err)
		}
		conf = evdns.DefaultConfig()
		conf.Servers = []netip.AddrPort{ap}
	} else {
		c, err := evdns.SystemConfig()
		if err != nil {
			fmt.Fprintf(stderr, "eddy resolve: %v\n", err)
			return 2
		}
		conf = c
	}
	if *tcp {
		conf.UseVC = true
	}

	l, err := eddy.NewLoop(nil)
	if err != nil {
		fmt.Fprintf(stderr, "eddy resolve: %v\n", err)
		return 2
	}
	defer l.Close()
	r := evdns.NewResolver(l, conf, nil, &evdns.ResolverConfig{CacheSize: -1})
	defer r.Close()

	// Every lookup of every question starts at once; the answers are
	// printed in the order of the questions and types.
	type result struct {
		ans *evdns.Answer
		err error
	}
	results := make([][]result, len(qs))
	for i, q := range qs {
		results[i] = make([]result, len(q.types))
		for j, t := range q.types {
			r.Lookup(q.name, t, func(a *evdns.Answer, err error) { results[i][j] = result{a, err} })
		}
	}
	if err := l.Run(); err != nil {
		fmt.Fprintf(stderr, "eddy resolve: %v\n", err)
		return 2
	}

	status := 0
	now := l.Now()
	for i, q := range qs {
		seen := make(map[string]bool)
		var notFound, hard error
		found := false
		for _, res := range results[i] {
			switch {
			case res.err == nil && res.ans != nil:
				found = true
				for _, line := range answerLines(res.ans, now) {
					if !seen[line] {
						seen[line] = true
						fmt.Fprintln(stdout, line)
					}
				}
			case errors.Is(res.err, evdns.ErrNXDomain), errors.Is(res.err, evdns.ErrNoData):
				if notFound == nil || errors.Is(notFound, evdns.ErrNoData) {
					notFound = res.err // NXDOMAIN says more than NODATA
				}
			case res.err != nil:
				if hard == nil {
					hard = res.err
				}
			default:
				hard = fmt.Errorf("lookup %s: no result", q.name)
			}
		}
		switch {
		case hard != nil:
			fmt.Fprintf(stderr, "eddy resolve: %v\n", hard)
			status = 2
		case !found:
			fmt.Fprintf(stderr, "eddy resolve: %v\n", notFound)
			status = max(status, 1)
		}
	}
	return status
}

// answerLines formats an Answer as "NAME TTL TYPE DATA" lines: the CNAME
// chain first, then the records. The Answer does not keep the TTLs of the
// CNAME records, so their lines show the time left before the whole
// answer expires (the smallest TTL of the chain and the records).
func answerLines(a *evdns.Answer, now time.Time) []string {
	var lines []string
	ttl := uint32(0)
	if d := a.Expires.Sub(now); d > 0 {
		ttl = uint32((d + time.Second/2) / time.Second)
	}
	from := a.Name
	for _, c := range a.CNAMEs {
		lines = append(lines, fmt.Sprintf("%s %d CNAME %s", from, ttl, c))
		from = c
	}
	for _, rr := range a.Records {
		lines = append(lines, fmt.Sprintf("%s %d %s %s", rr.Header.Name.String(), rr.Header.TTL, typeName(rr.Header.Type), recordData(rr.Body)))
	}
	return lines
}

// typeName returns "A" for dnsmessage.TypeA and so on.
func typeName(t dnsmessage.Type) string {
	return strings.TrimPrefix(t.String(), "Type")
}

// recordData formats the data of a record as dig does.
func recordData(b dnsmessage.ResourceBody) string {
	switch b := b.(type) {
	case *dnsmessage.AResource:
		return netip.AddrFrom4(b.A).String()
	case *dnsmessage.AAAAResource:
		return netip.AddrFrom16(b.AAAA).String()
	case *dnsmessage.CNAMEResource:
		return b.CNAME.String()
	case *dnsmessage.NSResource:
		return b.NS.String()
	case *dnsmessage.PTRResource:
		return b.PTR.String()
	case *dnsmessage.MXResource:
		return fmt.Sprintf("%d %s", b.Pref, b.MX.String())
	case *dnsmessage.SRVResource:
		return fmt.Sprintf("%d %d %d %s", b.Priority, b.Weight, b.Port, b.Target.String())
	case *dnsmessage.SOAResource:
		return fmt.Sprintf("%s %s %d %d %d %d %d", b.NS.String(), b.MBox.String(), b.Serial, b.Refresh, b.Retry, b.Expire, b.MinTTL)
	case *dnsmessage.TXTResource:
		q := make([]string, len(b.TXT))
		for i, s := range b.TXT {
			q[i] = strconv.Quote(s)
		}
		return strings.Join(q, " ")
	}
	return b.GoString()
}
