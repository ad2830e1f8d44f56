package evdns

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/eddyloop/eddy/internal/ascii"
)

// Limits that the C library (glibc's resolv.h) applies to resolv.conf
// values, and that ParseResolvConf applies the same way.
const (
	// MaxNameservers is the number of nameserver lines that are used;
	// later ones are ignored, as glibc's MAXNS does.
	MaxNameservers = 3

	// MaxNdots is the largest value of the ndots option (RES_MAXNDOTS);
	// larger values are lowered to it.
	MaxNdots = 15

	// MaxTimeout is the largest value of the timeout option
	// (RES_MAXRETRANS seconds); larger values are lowered to it.
	MaxTimeout = 30 * time.Second

	// MaxAttempts is the largest value of the attempts option
	// (RES_MAXRETRY); larger values are lowered to it.
	MaxAttempts = 5

	// MaxConfigBytes is the largest resolv.conf that ParseResolvConf
	// accepts. Real files are a few hundred bytes; the limit only keeps a
	// hostile or corrupt file from costing unbounded memory.
	MaxConfigBytes = 1 << 20
)

// Default values of the Config fields, used when resolv.conf does not set
// them (glibc's RES_DFLRETRY, RES_TIMEOUT and ndots default).
const (
	// DefaultNdots is the ndots value when the file sets none.
	DefaultNdots = 1

	// DefaultTimeout is the per-server timeout when the file sets none.
	DefaultTimeout = 5 * time.Second

	// DefaultAttempts is the attempts value when the file sets none.
	DefaultAttempts = 2
)

// DefaultResolvConf is the path of the system resolver configuration.
const DefaultResolvConf = "/etc/resolv.conf"

// ErrConfigTooLarge is returned by ParseResolvConf and ReadResolvConf for
// input larger than MaxConfigBytes.
var ErrConfigTooLarge = errors.New("evdns: resolv.conf larger than MaxConfigBytes")

// defaultServers are used when no valid nameserver line is found. glibc
// falls back to the local host (INADDR_ANY, which reaches 127.0.0.1); like
// Go's net package we name both loopback addresses.
var defaultServers = []netip.AddrPort{
	netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), 53),
	netip.AddrPortFrom(netip.IPv6Loopback(), 53),
}

// Config is a stub resolver configuration, as read from resolv.conf(5) or
// built by hand. The values in a Config are the effective ones: a Config
// returned by ParseResolvConf or DefaultConfig has every default filled
// in, so (unlike most eddy Config structs) its zero value is not the
// default; start from DefaultConfig to build one by hand.
type Config struct {
	// Servers are the name servers to ask, in order, at most
	// MaxNameservers of them when read from a file. The port is 53 for
	// servers read from resolv.conf, whose syntax has no port. IPv6
	// addresses may carry a zone ("fe80::1%eth0"). When the file names
	// no valid server, Servers is 127.0.0.1:53 and [::1]:53, as in Go's
	// net package.
	Servers []netip.AddrPort

	// Search is the search list: the domains appended to a name that is
	// not absolute (see Candidates). Entries are lower case, without a
	// trailing dot, and valid domain names; "." entries are dropped.
	// The domain and search lines replace each other, the last one wins,
	// and LOCALDOMAIN replaces both (see ApplyEnv). The list is not
	// truncated: glibc has had no limit on its length since 2.26.
	Search []string

	// Ndots is the number of dots a name needs to be tried as is before
	// the search list is applied, between 0 and MaxNdots (default 1).
	Ndots int

	// Timeout is how long to wait for an answer from one server before
	// trying the next, between 1s and MaxTimeout (default 5s).
	Timeout time.Duration

	// Attempts is how many times the whole server list is tried,
	// between 1 and MaxAttempts (default 2).
	Attempts int

	// Rotate spreads queries over the servers round-robin instead of
	// always asking the first one first (option rotate).
	Rotate bool

	// EDNS0 records option edns0. A Resolver does not consult it: every
	// query carries an EDNS0 OPT record advertising EDNSBufferSize bytes,
	// set or not, and a server that answers FORMERR is asked again
	// without it (see the package doc).
	EDNS0 bool

	// UseVC sends queries over TCP instead of UDP (option use-vc, also
	// spelled usevc, or tcp as on OpenBSD).
	UseVC bool

	// SingleRequest sends the A and AAAA queries one after the other
	// instead of in parallel (option single-request).
	SingleRequest bool

	// SingleRequestReopen is like SingleRequest, but also uses a new
	// socket for the second query (option single-request-reopen).
	SingleRequestReopen bool

	// TrustAD sets the AD bit in queries and trusts it in answers
	// (option trust-ad).
	TrustAD bool

	// NoTLDQuery stops a name without any dot from being tried as a
	// top-level domain after the search list (option no-tld-query).
	NoTLDQuery bool

	// searchSet records that a domain or search line, or LOCALDOMAIN,
	// set Search; otherwise ApplyHostname may derive it.
	searchSet bool
}

// DefaultConfig returns the configuration that an empty resolv.conf
// gives: the loopback servers, no search list, ndots 1, a 5s timeout and
// 2 attempts.
func DefaultConfig() *Config {
	return &Config{
		Servers:  append([]netip.AddrPort(nil), defaultServers...),
		Ndots:    DefaultNdots,
		Timeout:  DefaultTimeout,
		Attempts: DefaultAttempts,
	}
}

// ParseResolvConf parses the contents of a resolv.conf(5) file with the
// semantics of glibc's resolver:
//
//   - nameserver ADDR adds a server on port 53; lines whose address does
//     not parse are skipped, and only the first MaxNameservers valid
//     lines count;
//   - domain NAME and search NAME... set the search list, the last such
//     line winning;
//   - options OPT... sets ndots:N, timeout:N, attempts:N, rotate, edns0,
//     use-vc (usevc, tcp), single-request, single-request-reopen,
//     trust-ad and no-tld-query; out-of-range numbers are clamped,
//     malformed numbers and unknown options are ignored;
//   - other keywords (sortlist, lookup, family, ...) are ignored, and
//     keywords are case-sensitive and must be followed by a blank;
//   - text from a '#' or ';' to the end of the line is a comment.
//
// Missing values take their defaults (see DefaultConfig). The only error
// is ErrConfigTooLarge: like the C library, the parser skips what it does
// not understand rather than failing.
func ParseResolvConf(data []byte) (*Config, error) {
	if len(data) > MaxConfigBytes {
		return nil, ErrConfigTooLarge
	}
	c := &Config{Ndots: DefaultNdots, Timeout: DefaultTimeout, Attempts: DefaultAttempts}
	for len(data) > 0 {
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		if i := bytes.IndexAny(line, "#;"); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(string(line))
		if len(f) < 2 {
			// Every keyword we know needs a value; a keyword alone
			// is ignored, as in glibc.
			continue
		}
		switch f[0] {
		case "nameserver":
			if len(c.Servers) >= MaxNameservers {
				continue
			}
			if a, err := netip.ParseAddr(f[1]); err == nil {
				c.Servers = append(c.Servers, netip.AddrPortFrom(a, 53))
			}
		case "domain":
			c.Search = searchList(f[1:2])
			c.searchSet = true
		case "search":
			c.Search = searchList(f[1:])
			c.searchSet = true
		case "options":
			c.applyOptions(f[1:])
		}
	}
	if len(c.Servers) == 0 {
		c.Servers = append([]netip.AddrPort(nil), defaultServers...)
	}
	return c, nil
}

// ReadResolvConf reads and parses the resolv.conf file at path. A file
// that does not exist gives DefaultConfig and no error, as the C library
// behaves. Any other read error is returned, wrapped, together with
// DefaultConfig, so that a caller may choose to carry on with it.
func ReadResolvConf(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return DefaultConfig(), nil
		}
		return DefaultConfig(), fmt.Errorf("evdns: reading resolv.conf: %w", err)
	}
	c, err := ParseResolvConf(data)
	if err != nil {
		return DefaultConfig(), fmt.Errorf("evdns: %s: %w", path, err)
	}
	return c, nil
}

// SystemConfig returns the configuration that the C library would use in
// this process: DefaultResolvConf, then the LOCALDOMAIN and RES_OPTIONS
// environment variables (ApplyEnv), then the domain of the host name when
// no search list was set (ApplyHostname). Errors are those of
// ReadResolvConf, returned with the configuration built so far.
func SystemConfig() (*Config, error) {
	return loadConfig(DefaultResolvConf, os.LookupEnv, os.Hostname)
}

// loadConfig is SystemConfig with its inputs as parameters, for tests.
func loadConfig(path string, lookup func(string) (string, bool), hostname func() (string, error)) (*Config, error) {
	c, err := ReadResolvConf(path)
	c.ApplyEnv(lookup)
	if h, herr := hostname(); herr == nil {
		c.ApplyHostname(h)
	}
	return c, err
}

// ApplyEnv applies the environment variables that glibc reads on top of
// resolv.conf, fetched with lookup (os.LookupEnv for the process
// environment; tests pass their own function):
//
//   - LOCALDOMAIN, when set, replaces the search list with its blank
//     separated domains (an empty value empties the list);
//   - RES_OPTIONS holds options in the syntax of the options line, applied
//     after those of the file.
//
// A nil lookup does nothing.
func (c *Config) ApplyEnv(lookup func(key string) (value string, ok bool)) {
	if lookup == nil {
		return
	}
	if v, ok := lookup("LOCALDOMAIN"); ok {
		c.Search = searchList(strings.Fields(v))
		c.searchSet = true
	}
	if v, ok := lookup("RES_OPTIONS"); ok {
		c.applyOptions(strings.Fields(v))
	}
}

// ApplyHostname sets the search list to the domain of hostname (what
// follows its first dot) when neither resolv.conf nor LOCALDOMAIN set a
// search list, as glibc and Go's net package do. A host name without a
// dot, or with an invalid domain, leaves the list empty.
func (c *Config) ApplyHostname(hostname string) {
	if c.searchSet {
		return
	}
	if i := strings.IndexByte(hostname, '.'); i >= 0 {
		c.Search = searchList([]string{hostname[i+1:]})
	}
}

// applyOptions applies the options of an options line or RES_OPTIONS.
func (c *Config) applyOptions(opts []string) {
	for _, o := range opts {
		name, val, hasVal := strings.Cut(o, ":")
		if hasVal {
			n, ok := parseOptionNumber(val)
			if !ok {
				continue
			}
			switch name {
			case "ndots":
				c.Ndots = min(n, MaxNdots)
			case "timeout":
				c.Timeout = min(time.Duration(max(n, 1))*time.Second, MaxTimeout)
			case "attempts":
				c.Attempts = min(max(n, 1), MaxAttempts)
			}
			continue
		}
		switch name {
		case "rotate":
			c.Rotate = true
		case "edns0":
			c.EDNS0 = true
		case "use-vc", "usevc", "tcp":
			c.UseVC = true
		case "single-request":
			c.SingleRequest = true
		case "single-request-reopen":
			c.SingleRequestReopen = true
		case "trust-ad":
			c.TrustAD = true
		case "no-tld-query":
			c.NoTLDQuery = true
		}
	}
}

// parseOptionNumber parses the decimal value of an option. It needs at
// least one digit and nothing else; values too large for the caps are
// returned as a large number instead of overflowing.
func parseOptionNumber(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		d := s[i]
		if d < '0' || d > '9' {
			return 0, false
		}
		if n < 1<<20 {
			n = n*10 + int(d-'0')
		}
	}
	return n, true
}

// searchList returns the valid domains of names, normalised (lower case,
// no trailing dot), in a new non-nil slice. The root domain and invalid
// names are dropped.
func searchList(names []string) []string {
	list := make([]string, 0, len(names))
	for _, n := range names {
		n = normalizeName(n)
		if n == "" || !validDomain(n) {
			continue
		}
		list = append(list, n)
	}
	return list
}

// normalizeName returns name in lower case (ASCII only) without one
// trailing dot. It does not allocate when name is already normalised.
func normalizeName(name string) string {
	return ascii.ToLower(strings.TrimSuffix(name, "."))
}

// validDomain reports whether name, without a trailing dot, is a domain
// name that fits on the wire: 1 to 253 bytes, labels of 1 to 63 bytes.
// Like the C library it does not restrict the bytes in a label.
func validDomain(name string) bool {
	if name == "" || len(name) > 253 {
		return false
	}
	label := 0
	for i := 0; i < len(name); i++ {
		if name[i] == '.' {
			if label == 0 {
				return false
			}
			label = 0
			continue
		}
		label++
		if label > 63 {
			return false
		}
	}
	return label > 0
}
