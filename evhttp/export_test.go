package evhttp

// Export guts for testing.

// NoHeadCache makes s build every response head, without the cache of
// headcache.go. Call it before s serves.
func NoHeadCache(s *Server) { s.noHeadCache = true }

// HeadCacheHits returns how many response heads s's loops have copied from
// their caches. Call it on the goroutine of s's only loop, or after its
// loops have stopped.
func HeadCacheHits(s *Server) uint64 {
	var n uint64
	if m := s.states.Load(); m != nil {
		for _, ls := range *m {
			n += ls.head.hits
		}
	}
	return n
}
