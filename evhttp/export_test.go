package evhttp

// Export guts for testing.

import (
	"fmt"
	"reflect"
	"testing"
)

// CheckResets makes every quick reset of an exchange checked against the
// whole one (exchange.reset), as TestMain does for the tests; benchmarks
// and allocation counts run without the check.
func CheckResets(on bool) {
	verifyReset = nil
	if on {
		verifyReset = func(got, want *exchange) {
			if !reflect.DeepEqual(got, want) {
				panic(fmt.Sprintf("evhttp: the quick reset left\n%+v\nthe whole one\n%+v", *got, *want))
			}
		}
	}
}

// UncheckedResets turns CheckResets off until tb ends.
func UncheckedResets(tb testing.TB) {
	CheckResets(false)
	tb.Cleanup(func() { CheckResets(true) })
}

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
