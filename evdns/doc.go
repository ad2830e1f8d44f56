// Package evdns is eddy's asynchronous DNS stub resolver: it runs on an
// eddy Loop, with c-ares-grade behaviour, and speaks the DNS wire format
// through golang.org/x/net/dns/dnsmessage. It has two layers.
//
// # Configuration
//
// The configuration layer is pure (bytes in, results out, no loop, no
// network) and usable on its own:
//
//   - ParseResolvConf and ReadResolvConf read resolv.conf(5) with glibc's
//     semantics into a Config (servers, search list, ndots, timeout,
//     attempts and the options, of which edns0 alone changes nothing:
//     EDNS0 is always on); ApplyEnv adds
//     the LOCALDOMAIN and RES_OPTIONS environment variables, ApplyHostname
//     the default search domain, and SystemConfig does all of it for this
//     process.
//   - ParseHosts and ReadHosts read hosts(5) into a Hosts table for
//     forward (Lookup) and reverse (Reverse) lookups.
//   - Candidates applies the search list and ndots to a name and returns
//     the fully qualified names to query, in the order the C library
//     tries them.
//
// Parsing is lenient, as in the C library: lines and options that are not
// understood are skipped, never reported, so that a resolver keeps working
// with the rest of a file.
//
// # The resolver
//
// A Resolver (NewResolver) belongs to one Loop. Its lookups take a
// callback that runs on the loop: LookupHost (A and AAAA asked in
// parallel, the hosts table first), Lookup (any type: A, AAAA, CNAME, MX,
// SRV, TXT, NS, SOA, PTR, ...; CNAME chains followed and reported in the
// Answer) and LookupAddr (reverse lookups under in-addr.arpa and
// ip6.arpa, see ReverseName). A lookup in progress can be canceled
// (Request.Cancel); its callback then never runs.
//
// Each query goes over UDP with a random ID from a ChaCha8 source seeded
// by crypto/rand, and an EDNS0 OPT record advertising EDNSBufferSize
// bytes. The OPT record is always sent, whether resolv.conf has option
// edns0 or not (Config.EDNS0 records the option and changes nothing); a
// server that answers FORMERR is asked again without it. UDP sockets are
// shared among the queries to a server, as c-ares shares them
// (ARES_OPT_UDP_MAX_QUERIES): each server has a current
// socket, connected to it, with a random source port from the kernel's
// ephemeral range, which carries up to ResolverConfig.UDPMaxQueries attempts
// (DefaultUDPMaxQueries, 32) before a new socket, so a new port, takes
// over; the IDs of the attempts outstanding on a socket are all
// different, and a socket is closed when its last outstanding attempt
// ends. An answer is accepted only if it carries the ID of an attempt
// outstanding on the socket it came to, and its sender and question
// (name compared case-insensitively, type and class) are that attempt's;
// anything else is dropped and counted (Stats.Dropped). A truncated
// answer is asked again over TCP, with a 2-byte length prefix, through
// evnet.Dial (a connection per attempt); option use-vc sends every query
// over TCP.
//
// A query tries Config.Attempts rounds over Config.Servers (starting from
// a rotating server with option rotate), waiting Config.Timeout for each;
// SERVFAIL, REFUSED and other error codes move on to the next server at
// once (after one retry without EDNS0 for FORMERR), and so does an ICMP
// port unreachable, for every attempt outstanding on the socket that
// received it. When every try fails the lookup fails
// with ErrTimeout (or ErrServFail, ErrRefused, ErrServerError, ErrTruncated
// when that is what the servers said), never later than Attempts x
// servers x Timeout: a lookup never hangs. An answer that comes after its
// try timed out finds no attempt with its ID on its socket, and is dropped
// and counted, or finds its socket closed, and is dropped by the kernel.
//
// The search list applies as in glibc's res_search: NXDOMAIN, NODATA and
// SERVFAIL on a candidate move on to the next candidate; a timeout or
// another failure ends the lookup. See LookupHost for the final error.
// NXDOMAIN, NODATA, SERVFAIL and REFUSED are distinct errors (ErrNXDomain,
// ErrNoData, ErrServFail, ErrRefused), reported as an *Error that names
// the name looked up: "evdns: lookup www.example.com: no such host".
//
// # Cache, coalescing and limits
//
// Answers are cached for their smallest TTL, and NXDOMAIN and NODATA
// answers for the TTL of RFC 2308 (the smaller of the authority SOA's TTL
// and MINIMUM; a negative answer without an SOA is not cached). The cache
// is a bounded LRU (ResolverConfig.CacheSize). Whole lookups are cached too, by
// the name as given, so that a cached LookupHost or Lookup is a map access
// and a call: no allocation, the callback running before the lookup
// function returns (which then returns a nil *Request). The slices and
// Answers handed to callbacks may belong to the cache: they are
// read-only. Identical questions in flight share one query, and at most
// ResolverConfig.MaxInFlight queries are in flight, the others waiting in a
// bounded queue.
//
// SetConfig and SetHosts replace the configuration and the hosts table;
// WatchFiles reloads them when their files change (an eddy.Stat watcher
// each, the files read on the loop's work pool).
//
// # Dialling by name
//
// Dial (and Dialer.Dial) resolves the host of a "name:port" and connects
// with Happy Eyeballs (RFC 8305). The A and AAAA questions go out together
// and connecting starts with the first answer that allows it: the AAAA
// answer at once; an A answer that comes first after
// Dialer.ResolutionDelay (DefaultResolutionDelay, 50 ms), unless the AAAA
// answer comes within it. The addresses are tried with the families
// alternating, IPv6 first, those of a late answer joining the list; one
// attempt starts at a time, the next one after Dialer.AttemptDelay
// (DefaultAttemptDelay, 250 ms) or at once when an attempt fails. A family
// whose question fails or times out holds nothing up. The first
// connection wins and the others are closed before they reach the
// program's evnet.Handler; Dialer.Timeout bounds the whole dial
// (ErrDialTimeout), and Dialing.Cancel stops the lookup and closes every
// attempt. Errors name the address dialled.
//
// # The system resolver strategy
//
// Resolving on the loop is the default: a cached lookup is then a map
// access. A program whose hosts come from NSS modules (mDNS, LDAP,
// nsswitch.conf in general) uses a SystemResolver instead
// (NewSystemResolver): the same LookupHost and LookupAddr callbacks, each
// lookup made by Go's net.DefaultResolver on the loop's work pool
// (eddy.LaneSlow, so that slow lookups never hold up fast work) and its
// result handed back to the loop. Dial takes either (HostResolver); a
// SystemResolver gives both families' addresses in one answer, so with it
// the attempts start when the whole lookup is over.
//
// # Driving the resolver from a foreign loop
//
// A program whose event loop is not eddy's (a C library's, a GUI's, a
// hand-written epoll loop) runs a Resolver on an eddy Loop that it never
// runs itself, as c-ares is driven: the loop's one descriptor (Loop.Fd,
// an epoll or kqueue descriptor; not poll(2)) and its next timeout
// (Loop.Timeout) stand for every socket and timer of the resolver. The
// host loop watches the descriptor for reading, sleeps at most the
// timeout, and then calls Loop.RunNoWait, which runs the resolver's
// callbacks; lookups are started from the same goroutine. See
// host_loop_test.go for a complete raw epoll host.
package evdns
