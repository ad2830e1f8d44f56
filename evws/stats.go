package evws

import "sync/atomic"

// Stats counts what an Upgrader's connections did, bad input included.
type Stats struct {
	// Upgraded counts the handshakes accepted, Refused those answered
	// with an error status (426, 400, 403, 405).
	Upgraded, Refused uint64
	// Closed counts the upgraded connections that have closed, for any
	// reason; Upgraded - Closed are open (or about to open).
	Closed uint64
	// ProtocolErrors, InvalidData and TooBig count the connections failed
	// for their peer's input: with 1002 (a frame breaking RFC 6455), 1007
	// (invalid UTF-8 or compressed data) and 1009 (a message over
	// MaxMessageBytes, a decompression bomb).
	ProtocolErrors, InvalidData, TooBig uint64
	// DeadPeers counts the connections closed because their peer did not
	// answer a keep-alive Ping (ErrDeadPeer).
	DeadPeers uint64
}

// counters are an Upgrader's Stats as they are kept: atomics, since its
// connections may be on several loops.
type counters struct {
	upgraded, refused, closed           atomic.Uint64
	protocolErrors, invalidData, tooBig atomic.Uint64
	deadPeers                           atomic.Uint64
}

func (s *counters) load() Stats {
	return Stats{
		Upgraded: s.upgraded.Load(), Refused: s.refused.Load(), Closed: s.closed.Load(),
		ProtocolErrors: s.protocolErrors.Load(), InvalidData: s.invalidData.Load(), TooBig: s.tooBig.Load(),
		DeadPeers: s.deadPeers.Load(),
	}
}
