package evhttp

// Hooks for the tests of package evhttp_test.

import "time"

// SetWallClock makes s read the time of its Date lines from wall instead
// of time.Now: a test that runs s on eddytest's fake clock gives it the
// clock's Wall, so that the Date follows the fake time as the loop's
// Monotonic does. It must be called before s serves.
func SetWallClock(s *Server, wall func() time.Time) { s.wall = wall }
