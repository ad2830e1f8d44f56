package evdns

import (
	crand "crypto/rand"
	"math/rand/v2"
	"net/netip"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/internal/ascii"
)

// Defaults of the ResolverConfig fields.
const (
	// DefaultCacheSize is the number of cache entries when
	// ResolverConfig.CacheSize is zero.
	DefaultCacheSize = 4096
	// DefaultMaxInFlight is the limit of queries in flight when
	// ResolverConfig.MaxInFlight is zero. It stays well under the 256 or so
	// datagrams that a server's socket queues with Linux's default
	// receive buffer: a local server such as dnsmasq silently drops what
	// overflows it, and each dropped query then costs a whole timeout.
	DefaultMaxInFlight = 128
	// DefaultMaxQueued is the limit of queries waiting for a slot when
	// ResolverConfig.MaxQueued is zero.
	DefaultMaxQueued = 65536
	// DefaultUDPMaxQueries is the number of UDP attempts sent from one
	// source port when ResolverConfig.UDPMaxQueries is zero.
	DefaultUDPMaxQueries = 32
	// maxUDPMaxQueries bounds ResolverConfig.UDPMaxQueries: every attempt
	// outstanding on a socket needs an ID of its own.
	maxUDPMaxQueries = 1<<16 - 1
)

// ResolverConfig are the settings of a Resolver that resolv.conf does not hold.
// The zero value (or a nil *ResolverConfig) is the default of every field.
type ResolverConfig struct {
	// CacheSize bounds the number of entries in the cache (default
	// DefaultCacheSize); the least recently used entries are evicted
	// first. A negative size disables the cache.
	CacheSize int
	// MaxInFlight bounds the number of queries sent and not yet answered
	// (default DefaultMaxInFlight). Queries beyond it wait, in order, in a
	// queue of at most MaxQueued queries (default DefaultMaxQueued); a
	// lookup that finds the queue full fails with ErrTooManyQueries.
	MaxInFlight, MaxQueued int
	// UDPMaxQueries is the number of UDP attempts (first tries and
	// retries) sent on one socket, from one source port, to a server
	// (default DefaultUDPMaxQueries, 32), as c-ares's
	// ARES_OPT_UDP_MAX_QUERIES: each server has a current socket, opened
	// for the first attempt that needs it, with a random source port from
	// the kernel's ephemeral range; after UDPMaxQueries attempts the next
	// one opens a new socket. A socket is closed when its last outstanding
	// attempt ends, so an idle Resolver holds none. A value of 1 gives
	// every attempt a socket of its own (evdns before this option).
	// Larger values than 65535 count as 65535: every attempt outstanding
	// on a socket needs an ID of its own.
	//
	// The value trades defence against off-path spoofing for system
	// calls. A forger who cannot see the traffic must guess the source
	// port (about 15 bits of randomness in Linux's default ephemeral
	// range) and the ID (16 bits); while k attempts are outstanding on one
	// port any of their IDs will do, so a guess is k times likelier to
	// hit: at most 5 bits lost at 32, and a port serves 32 attempts at
	// most. A socket costs socket, connect, epoll_ctl and close, 3-5 µs
	// each on a virtual machine, where an attempt's own send and receive
	// cost about 5 µs: with a socket per attempt (1) the client spent
	// about three times the CPU per query it spends at 32, where the
	// socket's share is about 0.5 µs; a larger value saves little more
	// and weakens the port's randomness further.
	UDPMaxQueries int
}

// Stats are a Resolver's counters.
type Stats struct {
	// Lookups counts the calls of the lookup functions, and CacheHits those
	// answered at once from the cache or the hosts file.
	Lookups, CacheHits uint64
	// QueryCacheHits counts the questions of lookups (one name, one type)
	// answered from the cache without a query.
	QueryCacheHits uint64
	// Queries counts the messages sent (every attempt, UDP or TCP), TCP
	// the TCP connections made, Retries the attempts after the first of a
	// query, Timeouts the attempts that timed out.
	Queries, TCP, Retries, Timeouts uint64
	// Coalesced counts the lookups that joined a query already in flight.
	Coalesced uint64
	// Dropped counts the messages received that were not the answer to
	// an attempt outstanding on their socket: a wrong ID (which an answer
	// has that comes after its attempt timed out, when other attempts
	// keep the socket open), question or sender, or garbage.
	Dropped uint64
	// Reloads counts the configuration and hosts files applied by
	// WatchFiles, and ReloadErrors the reloads that failed to read a file
	// (the previous contents stay in use).
	Reloads, ReloadErrors uint64
	// InFlight and Queued are the queries sent and waiting now, and
	// CacheEntries the entries in the cache.
	InFlight, Queued, CacheEntries int
}

// Resolver is an asynchronous DNS stub resolver on an eddy Loop. Its
// methods must be called on the loop's goroutine, and its callbacks run
// there. Lookups that can be answered at once (from the hosts file or the
// cache) run their callback before the lookup function returns, which
// then returns a nil *Request; the others return a Request that Cancel
// can stop.
//
// The slices and Answers given to callbacks may be shared with the cache
// and with other lookups: they are read-only. A cached LookupHost or
// Lookup allocates nothing.
type Resolver struct {
	loop  *eddy.Loop
	conf  Config
	hosts *Hosts
	opts  ResolverConfig
	rng   interface{ Uint64() uint64 } // a ChaCha8 seeded by crypto/rand; tests may set another

	cache     cache
	inflight  map[qkey]*query
	queue     []*query // waiting for a slot, from queue[qhead]; stopped ones are skipped
	qhead     int
	running   int // queries started and not done
	queuedLen int // queries in the queue not stopped
	next      int // rotation of the first server
	closed    bool
	stats     Stats
	watch     *watchState // WatchFiles; nil when not watching

	udpCur   []*udpSock        // the current socket of each server that has one
	udpOpen  []*udpSock        // every open socket, current or retired
	udpSocks uint64            // sockets opened: numbers them
	pending  map[uint64]*query // outstanding UDP attempts by socket number<<16 | ID
}

// NewResolver returns a Resolver on the loop l with the configuration c
// (nil means DefaultConfig; see SystemConfig for the one the C library
// would use; no server means the loopback servers of DefaultConfig),
// consulting the hosts table h first (nil for none), and the
// options o (nil for the defaults). The Resolver keeps a copy of c. It
// must be called on l's goroutine or before l runs.
func NewResolver(l *eddy.Loop, c *Config, h *Hosts, o *ResolverConfig) *Resolver {
	if c == nil {
		c = DefaultConfig()
	}
	r := &Resolver{loop: l, hosts: h, inflight: make(map[qkey]*query), pending: make(map[uint64]*query)}
	r.setConfig(c)
	if o != nil {
		r.opts = *o
	}
	if r.opts.CacheSize == 0 {
		r.opts.CacheSize = DefaultCacheSize
	}
	if r.opts.MaxInFlight <= 0 {
		r.opts.MaxInFlight = DefaultMaxInFlight
	}
	if r.opts.MaxQueued <= 0 {
		r.opts.MaxQueued = DefaultMaxQueued
	}
	if r.opts.UDPMaxQueries <= 0 {
		r.opts.UDPMaxQueries = DefaultUDPMaxQueries
	}
	r.opts.UDPMaxQueries = min(r.opts.UDPMaxQueries, maxUDPMaxQueries)
	var seed [32]byte
	crand.Read(seed[:])
	r.rng = rand.NewChaCha8(seed)
	r.cache.init(r.opts.CacheSize)
	return r
}

// setConfig installs a copy of c, with the values a query needs made
// valid: at least one server and one attempt, a positive timeout.
func (r *Resolver) setConfig(c *Config) {
	r.conf = *c
	r.conf.Servers = append([]netip.AddrPort(nil), c.Servers...)
	if len(r.conf.Servers) == 0 {
		r.conf.Servers = append(r.conf.Servers, defaultServers...)
	}
	r.conf.Search = append([]string(nil), c.Search...)
	if r.conf.Attempts < 1 {
		r.conf.Attempts = 1
	}
	if r.conf.Timeout <= 0 {
		r.conf.Timeout = DefaultTimeout
	}
}

// SetConfig replaces the configuration with a copy of c (nil means
// DefaultConfig) and empties the cache, whose whole-lookup entries depend
// on the search list. Queries in flight finish with the new server list
// and attempts.
func (r *Resolver) SetConfig(c *Config) {
	if c == nil {
		c = DefaultConfig()
	}
	r.setConfig(c)
	r.cache.clear()
}

// SetHosts replaces the hosts table (nil for none) and empties the cache,
// which may hold answers the new table overrides.
func (r *Resolver) SetHosts(h *Hosts) {
	r.hosts = h
	r.cache.clear()
}

// Stats returns the Resolver's counters.
func (r *Resolver) Stats() Stats {
	s := r.stats
	s.InFlight, s.Queued, s.CacheEntries = r.running, r.queuedLen, r.cache.len()
	return s
}

// FlushCache empties the cache.
func (r *Resolver) FlushCache() { r.cache.clear() }

// Close stops every query and closes every socket, and stops watching
// files (WatchFiles): the lookups in progress fail with ErrClosed, and so
// do those started later. It must be called before the loop is closed.
func (r *Resolver) Close() {
	if r.closed {
		return
	}
	r.closed = true
	r.stopWatching()
	for _, q := range r.inflight {
		q.finish(&result{err: ErrClosed})
	}
	// Every query's end closed its sockets; none is left but by a bug.
	for len(r.udpOpen) > 0 {
		r.udpOpen[len(r.udpOpen)-1].close()
	}
	clear(r.queue)
	r.queue, r.qhead = nil, 0
	r.cache.clear()
}

// kind is what a Request looks up.
type kind uint8

const (
	kindHost kind = iota
	kindType
	kindAddr
)

// Request is a lookup in progress, returned by the lookup functions so
// that it can be canceled.
type Request struct {
	r      *Resolver
	kind   kind
	name   string // as given, for errors and the final cache key
	qtype  dnsmessage.Type
	cands  []string
	ci     int
	nslots int

	cbHost func([]netip.Addr, error)
	cbAns  func(*Answer, error)
	cbAddr func([]string, error)
	// cbEach, set by lookupHostEach, receives the addresses of a question
	// as soon as they are known; given records whose addresses it had.
	cbEach func(addrs []netip.Addr, more bool, err error)
	given  [2]bool

	pending int
	subs    [2]*query
	slots   [2]slot

	sawNoData, sawServFail bool
	negExpires             time.Time // the earliest expiry of the negative answers so far
	negUncacheable         bool      // a negative answer had no TTL (no SOA)
	done                   bool
}

// slot is the state of one of the (up to two) questions of a candidate.
type slot struct {
	qtype   dnsmessage.Type
	cur     string // the name asked now: the candidate, or a CNAME target
	hops    int
	cnames  []string
	recs    []dnsmessage.Resource
	err     error
	expires time.Time
}

// Cancel stops the lookup: its callback will not run. The queries it
// started are stopped unless other lookups wait for them. It reports
// whether the lookup was still in progress; a nil Request (a lookup that
// has already called back) gives false.
func (req *Request) Cancel() bool {
	if req == nil || req.done {
		return false
	}
	req.done = true
	for i, q := range req.subs {
		if q != nil {
			req.subs[i] = nil
			q.removeWaiter(req)
		}
	}
	return true
}

// LookupHost looks up the IPv4 and IPv6 addresses of name and calls cb
// with them, on the loop. An address literal is returned as it is. The
// hosts table is consulted first; otherwise
// the A and AAAA questions are asked in parallel for each candidate of
// the search list (see Candidates; one after the other with the options
// single-request and single-request-reopen), and the first candidate
// with any address wins: its IPv4 addresses come first, then its IPv6 addresses
// (an application connecting should try them with Happy Eyeballs).
//
// A candidate that does not exist (NXDOMAIN) or has no address (NODATA),
// or whose servers all fail (SERVFAIL), gives way to the next, as glibc's
// res_search does; a timeout, REFUSED or other failure ends the lookup at
// once with that error. When no candidate is left the error is ErrNoData
// if a candidate had a NODATA answer, else ErrServFail if one failed so,
// else ErrNXDomain. Errors are *Error values.
//
// If the answer is at hand (hosts table, cache) cb runs before LookupHost
// returns, which then returns nil. The addresses are read-only.
func (r *Resolver) LookupHost(name string, cb func(addrs []netip.Addr, err error)) *Request {
	return r.lookupHost(name, cb, nil)
}

// lookupHostEach is LookupHost for Dial's Happy Eyeballs (RFC 8305
// section 3): cb does not wait for both questions. When the A or the AAAA
// question is answered with addresses while the other is still pending,
// the candidate has won, and cb runs at once with that family's
// addresses and more set; the last call, with more clear, brings the
// addresses not given yet (none, when the other question found none) or,
// if nothing was found at all, the error of LookupHost. Answers at hand
// come in one call.
func (r *Resolver) lookupHostEach(name string, cb func(addrs []netip.Addr, more bool, err error)) *Request {
	return r.lookupHost(name, func(a []netip.Addr, err error) { cb(a, false, err) }, cb)
}

// lookupHost is LookupHost, with lookupHostEach's early callback when
// each is not nil.
func (r *Resolver) lookupHost(name string, cb func([]netip.Addr, error), each func([]netip.Addr, bool, error)) *Request {
	r.stats.Lookups++
	if addrs := r.hosts.Lookup(name); len(addrs) > 0 {
		r.stats.CacheHits++
		cb(addrs, nil)
		return nil
	}
	if e := r.cache.get(ckey{name: name, qtype: typeHost, final: true}, r.loop.Now()); e != nil {
		r.stats.CacheHits++
		cb(e.addrs, e.err)
		return nil
	}
	if a, err := netip.ParseAddr(name); err == nil {
		// An address literal is its own answer, as in getaddrinfo.
		r.stats.CacheHits++
		cb([]netip.Addr{a}, nil)
		return nil
	}
	req := &Request{r: r, kind: kindHost, name: name, cbHost: cb, cbEach: each, nslots: 2}
	req.slots[0].qtype = dnsmessage.TypeA
	req.slots[1].qtype = dnsmessage.TypeAAAA
	return req.begin(Candidates(name, &r.conf))
}

// Lookup asks for the records of type qtype of name (A, AAAA, CNAME, MX,
// SRV, TXT, NS, SOA, PTR or any other type that dnsmessage parses) and
// calls cb with them, on the loop. The search list applies as in
// LookupHost, and so do the errors. CNAME chains are followed, within the
// answers and with new queries for targets they leave unresolved, up to
// MaxCNAMEHops; the Answer lists the chain. The hosts table is not
// consulted.
//
// If the answer is in the cache cb runs before Lookup returns, which then
// returns nil. The Answer is read-only.
func (r *Resolver) Lookup(name string, qtype dnsmessage.Type, cb func(*Answer, error)) *Request {
	r.stats.Lookups++
	if e := r.cache.get(ckey{name: name, qtype: qtype, final: true}, r.loop.Now()); e != nil {
		r.stats.CacheHits++
		cb(e.ans, e.err)
		return nil
	}
	req := &Request{r: r, kind: kindType, name: name, qtype: qtype, cbAns: cb, nslots: 1}
	req.slots[0].qtype = qtype
	return req.begin(Candidates(name, &r.conf))
}

// LookupAddr looks up the names of addr (a reverse lookup: the PTR
// records of ReverseName(addr)) and calls cb with them, fully qualified,
// on the loop. The hosts table is consulted first; its names are given
// as they are written in the file.
//
// If the answer is at hand cb runs before LookupAddr returns, which then
// returns nil. The names are read-only.
func (r *Resolver) LookupAddr(addr netip.Addr, cb func(names []string, err error)) *Request {
	r.stats.Lookups++
	if names := r.hosts.Reverse(addr); len(names) > 0 {
		r.stats.CacheHits++
		cb(names, nil)
		return nil
	}
	req := &Request{r: r, kind: kindAddr, name: addr.String(), qtype: dnsmessage.TypePTR, cbAddr: cb, nslots: 1}
	req.slots[0].qtype = dnsmessage.TypePTR
	var cands []string
	if n := ReverseName(addr); n != "" {
		cands = []string{n}
	}
	return req.begin(cands)
}

// begin starts the lookup with its candidates; it returns nil if the
// lookup has already called back.
func (req *Request) begin(cands []string) *Request {
	req.cands = cands
	if len(cands) == 0 {
		req.fail(ErrInvalidName)
		return nil
	}
	req.startCandidate()
	if req.done {
		return nil
	}
	return req
}

// startCandidate asks the questions of candidate ci.
func (req *Request) startCandidate() {
	req.pending = req.nslots
	for i := range req.nslots {
		s := &req.slots[i]
		*s = slot{qtype: s.qtype, cur: req.cands[req.ci]}
	}
	for i := range req.nslots {
		if req.done || i > 0 && req.single() {
			return
		}
		req.r.ask(req, i, req.cands[req.ci], req.slots[i].qtype)
	}
}

// single reports whether the questions of a candidate are asked one after
// the other (options single-request and single-request-reopen).
func (req *Request) single() bool {
	return req.nslots > 1 && (req.r.conf.SingleRequest || req.r.conf.SingleRequestReopen)
}

// ask gets the answer to (name, qtype) for slot i of req: from the cache
// (at once), from a query in flight, or from a new query.
func (r *Resolver) ask(req *Request, i int, name string, qtype dnsmessage.Type) {
	if r.closed {
		req.onResult(i, &result{err: ErrClosed})
		return
	}
	k := qkey{name: ascii.ToLower(name), qtype: qtype}
	if e := r.cache.get(ckey{name: k.name, qtype: qtype}, r.loop.Now()); e != nil {
		r.stats.QueryCacheHits++
		req.onResult(i, e.res)
		return
	}
	if q := r.inflight[k]; q != nil {
		r.stats.Coalesced++
		req.subs[i] = q
		q.waiters = append(q.waiters, waiter{req, i})
		return
	}
	qn, err := dnsmessage.NewName(name)
	var msg []byte
	if err == nil {
		msg, err = buildQuery(qn, qtype, r.conf.TrustAD)
	}
	if err != nil {
		req.onResult(i, &result{err: ErrInvalidName})
		return
	}
	if r.running >= r.opts.MaxInFlight && r.queuedLen >= r.opts.MaxQueued {
		req.onResult(i, &result{err: ErrTooManyQueries})
		return
	}
	q := &query{r: r, key: k, name: name, qtype: qtype, msg: msg, tcp: r.conf.UseVC}
	if r.conf.Rotate {
		q.base = r.next % len(r.conf.Servers)
		r.next++
	}
	q.waiters = append(q.waiters, waiter{req, i})
	req.subs[i] = q
	r.inflight[k] = q
	if r.running < r.opts.MaxInFlight {
		q.start()
		return
	}
	r.queue = append(r.queue, q)
	r.queuedLen++
}

// startQueued starts queued queries while there is room in flight.
func (r *Resolver) startQueued() {
	for !r.closed && r.running < r.opts.MaxInFlight && r.qhead < len(r.queue) {
		q := r.queue[r.qhead]
		r.queue[r.qhead] = nil
		r.qhead++
		if q.done {
			continue
		}
		r.queuedLen--
		q.start()
	}
	if r.qhead == len(r.queue) {
		r.queue, r.qhead = r.queue[:0], 0
	}
}

// onResult takes the result of the question of slot i.
func (req *Request) onResult(i int, res *result) {
	if req.done {
		return
	}
	s := &req.slots[i]
	switch {
	case res.err != nil:
		s.err, s.expires = res.err, res.expires
	default:
		recs, cnames, target, ttl, loop := follow(res.answers, s.cur, s.qtype, MaxCNAMEHops-s.hops)
		s.cnames = append(s.cnames, cnames...)
		s.hops += len(cnames)
		exp := res.expires
		if ttl != ^uint32(0) {
			exp = minTime(exp, req.r.loop.Now().Add(time.Duration(ttl)*time.Second))
		}
		s.expires = minTime(s.expires, exp)
		switch {
		case loop:
			s.err = ErrCNAMELoop
		case len(recs) > 0:
			s.recs = recs
		case len(cnames) > 0 && s.qtype != dnsmessage.TypeCNAME:
			// The chain leaves the answer unfinished: ask its target.
			s.hops++
			if s.hops > MaxCNAMEHops {
				s.err = ErrCNAMELoop
				break
			}
			s.cur = target
			req.r.ask(req, i, target, s.qtype)
			return
		default:
			s.err = ErrNoData
		}
	}
	req.pending--
	if req.pending == 0 {
		req.evaluate()
		return
	}
	if req.cbEach != nil && s.err == nil {
		// Addresses: this candidate wins whatever the other question
		// brings, so they need not wait for it.
		req.given[i] = true
		req.cbEach(addrsOf(s.recs, nil), true, nil)
		if req.done {
			return
		}
	}
	if i == 0 && req.single() {
		req.r.ask(req, 1, req.cands[req.ci], req.slots[1].qtype)
	}
}

// minTime returns the earlier of a and b, a zero time counting as none.
func minTime(a, b time.Time) time.Time {
	switch {
	case a.IsZero():
		return b
	case b.IsZero() || a.Before(b):
		return a
	}
	return b
}

// evaluate decides on a candidate once its questions are answered: the
// lookup succeeds, moves to the next candidate, or fails.
func (req *Request) evaluate() {
	found, cacheable := false, true
	var hard error
	expires := time.Time{}
	for i := range req.nslots {
		s := &req.slots[i]
		expires = minTime(expires, s.expires)
		if s.expires.IsZero() {
			cacheable = false
		}
		switch s.err {
		case nil:
			found = true
		case ErrNoData:
			req.sawNoData = true
		case ErrNXDomain:
		case ErrServFail:
			req.sawServFail = true
		default:
			if hard == nil {
				hard = s.err
			}
		}
	}
	if found {
		if hard != nil || !cacheable {
			expires = time.Time{} // a partial answer is not cached as a whole
		}
		req.succeed(expires)
		return
	}
	if hard != nil {
		req.fail(hard)
		return
	}
	req.negExpires = minTime(req.negExpires, expires)
	if !cacheable {
		req.negUncacheable = true
	}
	req.ci++
	if req.ci < len(req.cands) {
		req.startCandidate()
		return
	}
	switch {
	case req.sawNoData:
		req.fail(ErrNoData)
	case req.sawServFail:
		req.fail(ErrServFail)
	default:
		req.fail(ErrNXDomain)
	}
}

// succeed calls back with the records of the current candidate.
func (req *Request) succeed(expires time.Time) {
	r := req.r
	req.done = true
	switch req.kind {
	case kindHost:
		var addrs []netip.Addr
		for i := range req.nslots {
			addrs = addrsOf(req.slots[i].recs, addrs)
		}
		if !expires.IsZero() {
			r.cache.put(&centry{key: ckey{name: req.name, qtype: typeHost, final: true}, expires: expires, addrs: addrs})
		}
		if req.given != [2]bool{} { // lookupHostEach gave some already
			addrs = nil
			for i := range req.nslots {
				if !req.given[i] {
					addrs = addrsOf(req.slots[i].recs, addrs)
				}
			}
		}
		req.cbHost(addrs, nil)
	case kindType:
		s := &req.slots[0]
		a := &Answer{Name: req.cands[req.ci], Type: req.qtype, CNAMEs: s.cnames, Records: s.recs, Expires: expires}
		a.Addrs = addrsOf(s.recs, nil)
		if !expires.IsZero() {
			r.cache.put(&centry{key: ckey{name: req.name, qtype: req.qtype, final: true}, expires: expires, ans: a})
		}
		req.cbAns(a, nil)
	case kindAddr:
		var names []string
		for _, rr := range req.slots[0].recs {
			if p, ok := rr.Body.(*dnsmessage.PTRResource); ok {
				names = append(names, p.PTR.String())
			}
		}
		req.cbAddr(names, nil)
	}
}

// fail calls back with the error reason, wrapped in an *Error; NXDOMAIN
// and NODATA of whole lookups are cached until the earliest negative
// expiry of their candidates.
func (req *Request) fail(reason error) {
	r := req.r
	req.done = true
	err := &Error{Name: req.name, Err: reason}
	if (reason == ErrNXDomain || reason == ErrNoData) && !req.negExpires.IsZero() && !req.negUncacheable && req.kind != kindAddr {
		qt := typeHost
		if req.kind == kindType {
			qt = req.qtype
		}
		r.cache.put(&centry{key: ckey{name: req.name, qtype: qt, final: true}, expires: req.negExpires, err: err})
	}
	switch req.kind {
	case kindHost:
		req.cbHost(nil, err)
	case kindType:
		req.cbAns(nil, err)
	case kindAddr:
		req.cbAddr(nil, err)
	}
}
