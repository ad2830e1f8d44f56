package evws

// Hub: a fan-out of prepared messages to many connections of one loop,
// written a slice of connections per iteration, several waiting messages
// in one system call.

import "github.com/eddyloop/eddy"

// DefaultHubSlice is HubConfig.Slice's default.
const DefaultHubSlice = 256

// HubConfig holds a Hub's settings; the zero value (or nil) is the
// default of each.
type HubConfig struct {
	// Slice is how many members the Hub writes to per iteration of the
	// loop (DefaultHubSlice when 0). Smaller slices let the loop read its
	// other connections sooner during a fan-out, at a system call per
	// slice.
	Slice int
}

// Hub sends messages to a set of server connections of one loop: a chat
// room, a pub/sub topic, a game's players. A connection may belong to
// several hubs of its loop.
//
// Broadcast does not write to every member at once. It queues the message
// once for all of them, and the Hub writes to its members in slices
// (HubConfig.Slice per iteration of the loop, after the iteration's
// events), so that the loop keeps reading its connections, a publisher's
// next messages among them, during a fan-out to many. A member that has
// several messages waiting when its turn comes gets them in one writev
// system call. When messages come faster than the loop can write them
// one system call each, the messages per system call grow until it keeps
// up, instead of the loop falling behind its input; when they come
// slowly, each message goes out in the iteration it was broadcast in, a
// slice at a time.
//
// Each message goes to a member as WritePrepared sends it (the compressed
// frame where permessage-deflate was negotiated), in order, after those
// broadcast before it; the queue limit and policy are WriteMessage's, and
// a message that would go past the limit is given to WritePrepared alone,
// which applies the policy. A member added later gets only the messages
// broadcast after it joined. Remove a member when it closes (OnClose).
//
// A Hub belongs to its loop: its methods must be called on the loop's
// goroutine (from another loop, Post the call).
type Hub struct {
	loop  *eddy.Loop
	slice int

	members []hubMember
	index   map[*Conn]int32 // a member's place in members

	// The messages not yet written to every member: msgs[i] has the
	// sequence number base+i; seq is the next one.
	msgs []*Prepared
	base uint64
	seq  uint64

	// The pass under way: members[cursor:] are still to be written to;
	// low is the least next of the members written to in this pass.
	cursor  int
	passing bool
	low     uint64

	stats HubStats

	check eddy.Check // writes a slice, every iteration while there is work
	idle  eddy.Idle  // keeps the loop from sleeping while there is work
	bufs  [][]byte   // scratch for one member's frames
}

type hubMember struct {
	c    *Conn
	next uint64 // the sequence number of its next message
}

// NewHub returns an empty Hub on loop l.
func NewHub(l *eddy.Loop, cfg *HubConfig) *Hub {
	h := &Hub{loop: l, slice: DefaultHubSlice, index: map[*Conn]int32{}}
	if cfg != nil && cfg.Slice > 0 {
		h.slice = cfg.Slice
	}
	h.check.Init(func(*eddy.Check) { h.writeSlice() })
	h.idle.Init(func(*eddy.Idle) {})
	return h
}

// Add makes c a member: it gets the messages broadcast from now on.
// Adding a member again does nothing.
func (h *Hub) Add(c *Conn) {
	if _, ok := h.index[c]; ok {
		return
	}
	h.index[c] = int32(len(h.members))
	h.members = append(h.members, hubMember{c: c, next: h.seq})
}

// Remove takes c out of the Hub; the messages not yet written to it are
// not. Removing a connection that is not a member does nothing.
func (h *Hub) Remove(c *Conn) {
	i, ok := h.index[c]
	if !ok {
		return
	}
	delete(h.index, c)
	last := len(h.members) - 1
	moved := h.members[last]
	switch {
	case int(i) == last:
	case h.passing && int(i) < h.cursor && last >= h.cursor:
		// The last member, not written to yet in this pass, must not
		// take a place the pass has gone by: the last member written to
		// moves to i, and the last member to its place, now the cursor's.
		h.cursor--
		if int(i) != h.cursor {
			h.members[i] = h.members[h.cursor]
			h.index[h.members[i].c] = i
		}
		h.members[h.cursor] = moved
		h.index[moved.c] = int32(h.cursor)
	default:
		h.members[i] = moved
		h.index[moved.c] = i
	}
	h.members[last] = hubMember{}
	h.members = h.members[:last]
	if h.cursor > len(h.members) {
		h.cursor = len(h.members)
	}
}

// HubStats counts what a Hub did.
type HubStats struct {
	// Messages counts the messages broadcast to at least one member.
	Messages uint64
	// Deliveries counts the messages written to members, one per message
	// and member.
	Deliveries uint64
	// Writes counts the writes that carried them: Deliveries / Writes
	// is the number of messages per system call (some more system calls
	// may be made for a write the kernel did not take whole).
	Writes uint64
}

// Stats returns the Hub's counts. Like every method of Hub, it must be
// called on the loop's goroutine.
func (h *Hub) Stats() HubStats { return h.stats }

// Len returns the number of members.
func (h *Hub) Len() int { return len(h.members) }

// Pending returns the number of messages broadcast that some member has
// not been written yet.
func (h *Hub) Pending() int { return int(h.seq - h.base) }

// Broadcast queues m for every member. When no fan-out is under way, the
// first slice of members is written to at once, and the others in the
// iterations that follow; otherwise m joins the fan-out under way.
func (h *Hub) Broadcast(m *Prepared) {
	if len(h.members) == 0 {
		return
	}
	h.msgs = append(h.msgs, m)
	h.seq++
	h.stats.Messages++
	if !h.passing {
		h.passing, h.cursor, h.low = true, 0, h.seq
		h.writeSlice()
	}
}

// writeSlice writes their waiting messages to the next slice of members;
// at the end of a pass it forgets the messages every member has had, and
// starts another pass if messages came during this one.
func (h *Hub) writeSlice() {
	end := min(h.cursor+h.slice, len(h.members))
	for ; h.cursor < end; h.cursor++ {
		m := &h.members[h.cursor]
		if m.next < h.seq {
			h.send(m)
		}
		h.low = min(h.low, m.next)
	}
	if h.cursor < len(h.members) {
		if !h.check.IsActive() {
			h.check.Start(h.loop)
			h.idle.Start(h.loop)
		}
		return
	}
	// The pass is over: every member has had the messages up to low.
	drop := int(h.low - h.base)
	clear(h.msgs[:drop])
	h.msgs = h.msgs[:copy(h.msgs, h.msgs[drop:])]
	h.base = h.low
	if h.seq > h.base && len(h.members) > 0 {
		h.cursor, h.low = 0, h.seq // another pass, from the next iteration
		if !h.check.IsActive() {
			h.check.Start(h.loop)
			h.idle.Start(h.loop)
		}
		return
	}
	h.passing = false
	h.check.Stop()
	h.idle.Stop()
}

// send writes m's waiting messages to its connection, in one system call
// when they fit its queue, and marks them written.
func (h *Hub) send(m *hubMember) {
	c := m.c
	msgs := h.msgs[m.next-h.base:]
	m.next = h.seq
	if c.flags&fCloseSent != 0 || c.nc == nil {
		return
	}
	h.stats.Deliveries += uint64(len(msgs))
	if bufs, ok := h.batch(c, msgs); ok {
		h.stats.Writes++
		c.nc.WriteSharedBuffers(bufs)
		clear(bufs)
		return
	}
	h.stats.Writes += uint64(len(msgs))
	for _, p := range msgs {
		c.WritePrepared(p)
	}
}

// batch returns the frames of msgs for c, to go out in one write, and
// true; or false when they must go one by one through WritePrepared: a
// single message, a client connection (masked per frame), a message being
// sent in fragments, a paced message, or a queue the batch would take
// past MaxQueuedBytes (WritePrepared applies the policy).
func (h *Hub) batch(c *Conn, msgs []*Prepared) ([][]byte, bool) {
	if len(msgs) == 1 || c.flags&fClient != 0 || c.sending != 0 || c.paced != nil {
		return nil, false
	}
	bufs, size := h.bufs[:0], 0
	for _, p := range msgs {
		fs := c.framesOf(p)
		if len(fs) > 1 {
			clear(bufs)
			return nil, false
		}
		bufs = append(bufs, fs[0])
		size += len(fs[0])
	}
	h.bufs = bufs[:0]
	if c.queued()+size > c.cfg.MaxQueuedBytes {
		clear(bufs)
		return nil, false
	}
	return bufs, true
}
