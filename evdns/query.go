package evdns

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"syscall"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evnet"
)

// qkey identifies a query: a fully qualified name in lower case and a type.
type qkey struct {
	name  string
	qtype dnsmessage.Type
}

// result is the outcome of one query, shared by the lookups waiting on it
// and by the cache: read-only once made.
type result struct {
	err       error // nil (NOERROR), or ErrNXDomain, ErrServFail, ErrTimeout, ...
	answers   []dnsmessage.Resource
	expires   time.Time // when it leaves the cache
	cacheable bool
}

// waiter is a lookup waiting on a query, with the slot it fills.
type waiter struct {
	req  *Request
	slot int
}

// query is one question asked to the servers: a UDP attempt on a socket
// shared with other queries to the same server (or a TCP connection of
// its own), the attempts in the order of Config.Attempts and
// Config.Servers, and the lookups waiting for its result.
//
// Attempt t goes to server (base+t) mod n, for t from 0 to Attempts*n-1,
// and each waits Timeout. Each attempt has its own random ID, unique among
// the attempts outstanding on its socket. A UDP attempt goes out on its
// server's current socket (see udpSock): a socket of its own, connected to
// the server, whose random source port serves up to
// ResolverConfig.UDPMaxQueries attempts before a new socket takes over; a socket
// is closed when its last outstanding attempt ends. An answer reaches the
// attempt whose ID it carries on the socket it came to, and is accepted
// only if its sender and question are the attempt's too; an answer
// arriving after its attempt ended (timed out, say) finds no attempt with
// its ID, or no socket, and is dropped. A SERVFAIL, REFUSED or other error
// code moves on to the next attempt at once, as glibc and c-ares do, and
// becomes the result if no server answers better; so does an ICMP port
// unreachable (no server there), which fails over every attempt
// outstanding on the socket, with ErrTimeout as the result.
type query struct {
	r       *Resolver
	key     qkey
	name    string // fully qualified, as first asked (case kept)
	qtype   dnsmessage.Type
	msg     []byte // the query; msg[0:2] is the current ID
	waiters []waiter

	base    int // the server of attempt 0
	try     int // attempts started
	id      uint16
	server  netip.AddrPort
	tcp     bool // attempts go over TCP (use-vc, or after a truncated answer)
	tc      bool // a truncated answer sent the query to TCP
	noEDNS  bool // a FORMERR made the query drop its OPT record
	lastErr error
	started bool
	done    bool

	sock         *udpSock // the socket of the current UDP attempt; nil when none
	snext, sprev *query   // in sock's list of outstanding attempts
	conn         *evnet.Conn
	timer        eddy.Timer
}

func (q *query) queued() bool { return !q.started }

// start sends the first attempt.
func (q *query) start() {
	q.started = true
	q.r.running++
	q.timer.Init(q.onTimeout, q.r.conf.Timeout, 0)
	q.next()
}

// next starts the next attempt, or finishes the query when none is left.
func (q *query) next() {
	r := q.r
	for !q.done {
		q.closeTransport()
		if q.try >= r.conf.Attempts*len(r.conf.Servers) {
			err := q.lastErr
			if err == nil {
				err = ErrTimeout
			}
			q.finish(&result{err: err})
			return
		}
		if q.try > 0 {
			r.stats.Retries++
		}
		q.server = r.conf.Servers[(q.base+q.try)%len(r.conf.Servers)]
		q.try++
		if q.send() == nil {
			q.timer.Set(r.conf.Timeout, 0)
			q.arm()
			return
		}
		// Could not even send (no route, no descriptor): next server.
	}
}

// send sends the current attempt over UDP or TCP, with a new ID.
func (q *query) send() error {
	r := q.r
	r.stats.Queries++
	if !q.tcp {
		return q.sendUDP()
	}
	r.stats.TCP++
	q.setID(uint16(r.rng.Uint64()))
	c, err := evnet.Dial(r.loop, "tcp", q.server.String(), r.conf.Timeout, evnet.Handler{OnData: q.onTCPData, OnClose: q.onTCPClose})
	if err != nil {
		return err
	}
	q.conn = c
	var l [2]byte
	binary.BigEndian.PutUint16(l[:], uint16(len(q.msg)))
	if _, err := c.Write(l[:]); err != nil {
		return err
	}
	_, err = c.Write(q.msg)
	return err
}

func (q *query) setID(id uint16) {
	q.id = id
	binary.BigEndian.PutUint16(q.msg, id)
}

// sendUDP sends the current attempt on the server's current socket, with
// an ID that no other attempt outstanding on the socket has.
func (q *query) sendUDP() error {
	r := q.r
	s, err := r.udpSocket(q.server)
	if err != nil {
		return err
	}
	id := uint16(r.rng.Uint64())
	for r.pending[s.key(id)] != nil {
		id = uint16(r.rng.Uint64()) // taken on this socket: draw again
	}
	q.setID(id)
	s.add(q)
	err = s.pc.Write(q.msg)
	if err == nil {
		return nil
	}
	// Not sent: the attempt fails (the caller moves on). A refusal is
	// the ICMP port unreachable of an earlier datagram on the socket,
	// reported now: the other attempts on it fail over as well.
	q.closeTransport()
	if errors.Is(err, syscall.ECONNREFUSED) {
		s.refused()
	}
	return err
}

// closeTransport ends the current attempt's use of its socket (closed if
// no other attempt is outstanding on it) or closes its TCP connection.
func (q *query) closeTransport() {
	if s := q.sock; s != nil {
		s.remove(q)
	}
	if c := q.conn; c != nil {
		q.conn = nil
		c.Abort()
	}
}

// arm (re)starts the try's timeout, counted from now: the loop's cached
// time may be stale after a burst of lookups started in one callback, and
// a timeout counted from it would fire early.
func (q *query) arm() {
	l := q.r.loop
	l.UpdateNow()
	q.timer.Stop()
	q.timer.Start(l)
}

func (q *query) onTimeout(*eddy.Timer) {
	q.r.stats.Timeouts++
	q.next()
}

func (q *query) onTCPData(c *evnet.Conn, p []byte) int {
	if c != q.conn || q.done {
		return len(p)
	}
	used := 0
	for len(p)-used >= 2 {
		n := int(binary.BigEndian.Uint16(p[used:]))
		if len(p)-used < 2+n {
			break
		}
		msg := p[used+2 : used+2+n]
		used += 2 + n
		q.handle(msg)
		if c != q.conn {
			break // answered: the connection was closed
		}
	}
	return used
}

func (q *query) onTCPClose(c *evnet.Conn, reason error) {
	if c != q.conn || q.done {
		return
	}
	q.conn = nil
	if q.tc {
		q.lastErr = ErrTruncated
	}
	q.next()
}

// handle processes a message received for the current attempt. Messages
// that are not the answer to it are dropped and counted.
func (q *query) handle(msg []byte) {
	r := q.r
	resp, ok := parseResponse(msg, q.id, q.name, q.qtype)
	if !ok {
		r.stats.Dropped++
		return
	}
	if resp.truncated {
		if q.tcp {
			r.stats.Dropped++ // a truncated answer over TCP: useless
			return
		}
		// Ask the same server again over TCP, in a fresh attempt
		// window; this does not count as an attempt.
		q.closeTransport()
		q.tcp, q.tc = true, true
		if err := q.send(); err != nil {
			q.lastErr = ErrTruncated
			q.next()
			return
		}
		q.arm()
		return
	}
	now := r.loop.Now()
	switch resp.rcode {
	case dnsmessage.RCodeSuccess:
		res := &result{answers: resp.answers}
		ttl := ^uint32(0)
		for _, rr := range resp.answers {
			ttl = min(ttl, rr.Header.TTL)
		}
		if len(resp.answers) == 0 {
			ttl = resp.negTTL
			if !resp.hasSOA {
				ttl = 0
			}
		}
		res.expires = now.Add(time.Duration(ttl) * time.Second)
		res.cacheable = ttl > 0
		q.finish(res)
	case dnsmessage.RCodeNameError:
		res := &result{err: ErrNXDomain}
		if resp.hasSOA {
			res.expires = now.Add(time.Duration(resp.negTTL) * time.Second)
			res.cacheable = resp.negTTL > 0
		}
		q.finish(res)
	case dnsmessage.RCodeServerFailure:
		q.lastErr = ErrServFail
		q.next()
	case dnsmessage.RCodeRefused:
		if q.lastErr == nil {
			q.lastErr = ErrRefused
		}
		q.next()
	case dnsmessage.RCodeFormatError:
		if !q.noEDNS {
			// A server that does not understand EDNS0 (RFC 6891 section
			// 7): ask it again without the OPT record.
			q.noEDNS = true
			q.closeTransport()
			q.msg = stripOPT(q.msg)
			if err := q.send(); err != nil {
				q.next()
				return
			}
			q.arm()
			return
		}
		fallthrough
	default:
		if q.lastErr == nil {
			q.lastErr = ErrServerError
		}
		q.next()
	}
}

// optLen is the size of the OPT record buildQuery appends: root name,
// type, class, TTL and an empty RDATA.
const optLen = 1 + 2 + 2 + 4 + 2

// stripOPT returns the query msg without its OPT record, the last record
// of the message and the only one of the additional section.
func stripOPT(msg []byte) []byte {
	out := append([]byte(nil), msg[:len(msg)-optLen]...)
	binary.BigEndian.PutUint16(out[10:], 0) // ARCOUNT
	return out
}

// finish ends the query with res: caches it and hands it to the waiters.
func (q *query) finish(res *result) {
	if q.done {
		return
	}
	r := q.r
	q.stop()
	if res.cacheable {
		r.cache.put(&centry{key: ckey{name: q.key.name, qtype: q.key.qtype}, expires: res.expires, res: res})
	}
	ws := q.waiters
	q.waiters = nil
	for _, w := range ws {
		if w.req.subs[w.slot] == q {
			w.req.subs[w.slot] = nil
			w.req.onResult(w.slot, res)
		}
	}
	r.startQueued()
}

// stop ends the query without a result: its transport closed, its timer
// stopped, and its place in flight (or in the queue) given up.
func (q *query) stop() {
	if q.done {
		return
	}
	r := q.r
	q.done = true
	q.closeTransport()
	q.timer.Stop()
	if r.inflight[q.key] == q {
		delete(r.inflight, q.key)
	}
	if q.started {
		r.running--
	} else {
		r.queuedLen--
	}
}

// removeWaiter forgets the lookup req, canceled; a query nobody waits for
// any more is stopped.
func (q *query) removeWaiter(req *Request) {
	ws := q.waiters[:0]
	for _, w := range q.waiters {
		if w.req != req {
			ws = append(ws, w)
		}
	}
	clear(q.waiters[len(ws):])
	q.waiters = ws
	if len(ws) == 0 && !q.done {
		q.stop()
		q.r.startQueued()
	}
}
