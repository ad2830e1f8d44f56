package evdns

import (
	"net/netip"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// typeHost is the cache key type of the final results of LookupHost: 0 is
// a reserved RR type, so it never clashes with a query's type.
const typeHost dnsmessage.Type = 0

// ckey identifies a cache entry. Entries with final set hold the result
// of a whole lookup, keyed by the name as the caller gave it (the search
// list applied), so that a cached lookup costs one map access; the others
// hold the answer of one query for a fully qualified name in lower case.
type ckey struct {
	name  string
	qtype dnsmessage.Type
	final bool
}

// centry is a cache entry, on the LRU list of its cache. The slices and
// the Answer it holds are handed to callbacks as they are: read-only.
type centry struct {
	key     ckey
	expires time.Time
	res     *result      // query entries
	addrs   []netip.Addr // final LookupHost entries
	ans     *Answer      // final Lookup entries
	err     error        // final negative entries: an *Error

	prev, next *centry
}

// cache is a bounded LRU cache. A size of zero or less disables it.
type cache struct {
	size int
	m    map[ckey]*centry
	head centry // sentinel: head.next is the most recently used entry
}

func (c *cache) init(size int) {
	c.size = size
	c.m = make(map[ckey]*centry)
	c.head.next, c.head.prev = &c.head, &c.head
}

// get returns the live entry for k, or nil; an expired entry is removed.
// It does not allocate.
func (c *cache) get(k ckey, now time.Time) *centry {
	e := c.m[k]
	if e == nil {
		return nil
	}
	if !now.Before(e.expires) {
		c.remove(e)
		return nil
	}
	c.unlink(e)
	c.pushFront(e)
	return e
}

// put stores e, replacing any entry with its key and evicting the least
// recently used entries beyond the size.
func (c *cache) put(e *centry) {
	if c.size <= 0 {
		return
	}
	if old := c.m[e.key]; old != nil {
		c.remove(old)
	}
	c.m[e.key] = e
	c.pushFront(e)
	for len(c.m) > c.size {
		c.remove(c.head.prev)
	}
}

func (c *cache) remove(e *centry) {
	delete(c.m, e.key)
	c.unlink(e)
}

func (c *cache) unlink(e *centry) {
	e.prev.next = e.next
	e.next.prev = e.prev
	e.prev, e.next = nil, nil
}

func (c *cache) pushFront(e *centry) {
	e.prev = &c.head
	e.next = c.head.next
	c.head.next.prev = e
	c.head.next = e
}

// len returns the number of entries, expired ones included.
func (c *cache) len() int { return len(c.m) }

// clear removes every entry.
func (c *cache) clear() {
	clear(c.m)
	c.head.next, c.head.prev = &c.head, &c.head
}
