package evhttp

// The response head a loop built last, kept to be copied for the next
// response that would be built the same: a handler that answers every
// request with the same status, fields and length (Content-Type, say) has
// its head serialised once per second, when the Date line changes, and
// copied in one block otherwise.

import "unsafe"

// headKey is what a response head is built from, besides its header
// fields and the loop's configuration (the Server line).
type headKey struct {
	shape uint64 // the status, version, framing and Connection: close (shape)
	cl    int64  // the Content-Length, with frameLength
	date  uint64 // ls.dateGen of the Date line in the head, 0 if none
}

// shape packs the status, the minor version, the framing and whether
// the head says Connection: close into a headKey's shape.
func shape(status, minor int, frame uint8, closes bool) uint64 {
	k := uint64(status)<<16 | uint64(minor&0xff)<<8 | uint64(frame)<<1
	if closes {
		k |= 1
	}
	return k
}

// headCache is a head and the key and fields it was built from. It keeps
// the fields' strings themselves: Go strings do not change, and a handler
// that sets the same constants for every response makes each compare in
// match end at its first step, when the two strings are the same bytes in
// memory.
type headCache struct {
	key    headKey
	fields []string // the names and values: name, value, name, value, ...
	mem    []byte   // the bytes of the volatile fields' strings (Header.AddBytes), copied
	head   []byte
	valid  bool
	misses uint32 // heads built since the cache last served one
	hits   uint64 // heads served from the cache, for tests
}

// Limits of what is cached: larger heads are built each time.
const (
	maxCachedHead   = 512
	maxCachedFields = 8
)

// match reports whether the cached head, valid, is the one key and hdr
// would build.
func (c *headCache) match(key *headKey, hdr []field) bool {
	if c.key != *key || len(c.fields) != 2*len(hdr) {
		return false
	}
	for i := range hdr {
		if f := &hdr[i]; f.name != c.fields[2*i] || f.value != c.fields[2*i+1] {
			return false
		}
	}
	return true
}

// admit reports whether a head just built is to be cached. Heads that
// repeat are served from the cache; when they do not (a field that
// changes with each response), copying each into the cache and comparing
// the next with it would cost more than building them: after 4 misses in
// a row, only every 16th head built is cached, and the cache is empty
// otherwise.
func (c *headCache) admit() bool {
	c.misses++
	if c.misses <= 4 || c.misses%16 == 0 {
		return true
	}
	c.valid = false
	return false
}

// store makes head, built from key and hdr, the cached head.
func (c *headCache) store(key *headKey, hdr []field, head []byte) {
	c.valid = false
	clear(c.fields)
	c.fields = c.fields[:0]
	if len(head) > maxCachedHead || len(hdr) > maxCachedFields {
		return
	}
	n := 0
	for i := range hdr {
		n += len(hdr[i].name) + len(hdr[i].value)
	}
	if n > maxCachedHead {
		return // fields the head does not show, such as a long Connection
	}
	c.key = *key
	c.mem = c.mem[:0]
	for i := range hdr {
		name, value := hdr[i].name, hdr[i].value
		if hdr[i].volatile {
			// Its bytes are the Header's, which the next response
			// overwrites: the cache keeps a copy of its own, which only
			// the next store overwrites, once fields is cleared.
			if c.mem == nil {
				c.mem = make([]byte, 0, maxCachedHead)
			}
			start := len(c.mem)
			c.mem = append(append(c.mem, name...), value...) // n <= maxCachedHead: no growth
			b := c.mem[start:]
			name = unsafe.String(unsafe.SliceData(b), len(name))
			value = ""
			if len(b) > len(name) {
				value = unsafe.String(&b[len(name)], len(b)-len(name))
			}
		}
		c.fields = append(c.fields, name, value)
	}
	c.head = append(c.head[:0], head...)
	c.valid = true
}
