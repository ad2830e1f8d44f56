package evdns

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"syscall"

	"github.com/eddyloop/eddy/evnet"
)

// udpSock is a UDP socket connected to one server and shared by the UDP
// attempts of the queries to it, as c-ares shares its connections
// (ARES_OPT_UDP_MAX_QUERIES): a server has at most one current socket,
// which takes new attempts until ResolverConfig.UDPMaxQueries have been sent on
// it; it is then retired, and the next attempt opens a new socket, so a
// new random source port from the kernel's ephemeral range. A socket,
// current or retired, is closed as soon as no attempt is outstanding on
// it: an idle resolver holds no descriptor, and an answer that comes
// after its attempt ended meets either a socket where no attempt has its
// ID (dropped and counted) or a closed port (dropped by the kernel).
//
// The attempts outstanding on a socket are in Resolver.pending, keyed by
// the socket's number and the attempt's ID (unique among them), for
// answers to find them; and in a list through query.snext, for an ICMP
// port unreachable to fail them all over.
type udpSock struct {
	r       *Resolver
	pc      *evnet.PacketConn
	server  netip.AddrPort
	num     uint64 // the socket's number: the high bits of its pending keys
	sent    int    // attempts sent on it
	n       int    // attempts outstanding
	head    *query // the outstanding attempts, linked by query.snext and sprev
	current bool   // in r.udpCur: new attempts to server go out on it
	open    int    // index in r.udpOpen; -1 once closed
}

// key is the key in Resolver.pending of the attempt with the given ID on s.
func (s *udpSock) key(id uint16) uint64 { return s.num<<16 | uint64(id) }

// udpSocket returns the current socket of server, opening one if the
// server has none.
func (r *Resolver) udpSocket(server netip.AddrPort) (*udpSock, error) {
	for _, s := range r.udpCur {
		if s.server == server {
			return s, nil
		}
	}
	s := &udpSock{r: r, server: server, num: r.udpSocks}
	pc, err := evnet.DialUDP(r.loop, server, s.onPacket, &evnet.PacketConfig{OnError: s.onError})
	if err != nil {
		return nil, err
	}
	r.udpSocks++
	s.pc = pc
	s.current = true
	r.udpCur = append(r.udpCur, s)
	s.open = len(r.udpOpen)
	r.udpOpen = append(r.udpOpen, s)
	return s, nil
}

// add makes q's attempt (its ID set) outstanding on s, and retires s if
// that was the last attempt it may take.
func (s *udpSock) add(q *query) {
	s.r.pending[s.key(q.id)] = q
	q.sock = s
	q.sprev, q.snext = nil, s.head
	if s.head != nil {
		s.head.sprev = q
	}
	s.head = q
	s.n++
	s.sent++
	if s.sent >= s.r.opts.UDPMaxQueries {
		s.retire()
	}
}

// remove ends q's attempt on s; the socket is closed if it was the last
// one outstanding.
func (s *udpSock) remove(q *query) {
	delete(s.r.pending, s.key(q.id))
	if q.sprev != nil {
		q.sprev.snext = q.snext
	} else {
		s.head = q.snext
	}
	if q.snext != nil {
		q.snext.sprev = q.sprev
	}
	q.sock, q.snext, q.sprev = nil, nil, nil
	if s.n--; s.n == 0 {
		s.close()
	}
}

// retire stops new attempts from going out on s.
func (s *udpSock) retire() {
	if !s.current {
		return
	}
	s.current = false
	cur := s.r.udpCur
	for i, c := range cur {
		if c == s {
			last := len(cur) - 1
			cur[i], cur[last] = cur[last], nil
			s.r.udpCur = cur[:last]
			return
		}
	}
}

// close closes s, which has no attempt outstanding.
func (s *udpSock) close() {
	if s.open < 0 {
		return
	}
	s.retire()
	r := s.r
	last := len(r.udpOpen) - 1
	moved := r.udpOpen[last]
	r.udpOpen[s.open], moved.open = moved, s.open
	r.udpOpen[last] = nil
	r.udpOpen = r.udpOpen[:last]
	s.open = -1
	s.pc.Close()
}

// onPacket hands a datagram to the attempt outstanding on s with its ID.
// Datagrams from elsewhere (a connected socket receives none), too short
// to hold an ID, or with an ID no attempt on s has (a late answer to an
// attempt that timed out, a forgery) are dropped and counted; the
// attempt itself checks the rest (see parseResponse).
func (s *udpSock) onPacket(c *evnet.PacketConn, p []byte, from netip.AddrPort) {
	r := s.r
	if c != s.pc || len(p) < 2 || from.Addr().Unmap() != s.server.Addr().Unmap() || from.Port() != s.server.Port() {
		r.stats.Dropped++
		return
	}
	q := r.pending[s.key(binary.BigEndian.Uint16(p))]
	if q == nil {
		r.stats.Dropped++
		return
	}
	q.handle(p)
}

// onError handles the errors reported on s: a port unreachable means no
// server listens there, so every attempt outstanding on s moves on to the
// next server without waiting for its timeout.
func (s *udpSock) onError(c *evnet.PacketConn, err error) {
	if c == s.pc && errors.Is(err, syscall.ECONNREFUSED) {
		s.refused()
	}
}

// refused retires s and fails over the attempts outstanding on it. Each
// moves on to its next server (a new socket if that is the same server),
// which removes it from s; the last one out closes s.
func (s *udpSock) refused() {
	s.retire()
	for s.head != nil {
		q := s.head
		q.closeTransport()
		q.next()
	}
}
