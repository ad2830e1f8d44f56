package evhttp_test

// The Date line of a Server's loop state (loopserver.go), on the fake
// clock.

import (
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/eddyloop/eddy/evhttp"
)

// imfFixdate is RFC 9110's IMF-fixdate (§5.6.7), the form of a Date field.
var imfFixdate = regexp.MustCompile(`^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT$`)

// TestDateLine: the Date field is the IMF-fixdate of the clock's time, in
// GMT whatever the clock's zone; it is formatted once per second (the
// wall clock read once) and the same within the second, and changes when
// the clock passes the second's boundary, to the nanosecond.
func TestDateLine(t *testing.T) {
	srv := &evhttp.Server{IdleTimeout: -1}
	s := fkStart(t, srv) // its clock starts at 05:06:07.25 UTC, 4 March 2026
	c := s.dial()
	for i, step := range []struct {
		advance time.Duration
		date    string
		reads   int
	}{
		{0, "Wed, 04 Mar 2026 05:06:07 GMT", 1},
		{500 * time.Millisecond, "Wed, 04 Mar 2026 05:06:07 GMT", 1},
		{250*time.Millisecond - 1, "Wed, 04 Mar 2026 05:06:07 GMT", 1}, // 07.999999999
		{1, "Wed, 04 Mar 2026 05:06:08 GMT", 2},
		{999 * time.Millisecond, "Wed, 04 Mar 2026 05:06:08 GMT", 2},
		{25 * time.Hour, "Thu, 05 Mar 2026 06:06:08 GMT", 3},
		{time.Millisecond, "Thu, 05 Mar 2026 06:06:09 GMT", 4},
	} {
		s.runFor(step.advance)
		wall := s.clock.Wall()
		c.write(getReq)
		resp, body, _ := c.awaitResponse("GET", time.Second)
		date := resp.Header.Get("Date")
		if date != step.date || s.walls != step.reads || body != "Hello, World!" {
			t.Errorf("step %d, at %v: Date %q after %d reads of the clock, want %q after %d (%q)",
				i, wall, date, s.walls, step.date, step.reads, body)
		}
		if !imfFixdate.MatchString(date) || date != wall.UTC().Format(http.TimeFormat) {
			t.Errorf("step %d: Date %q is not the IMF-fixdate of %v", i, date, wall)
		}
	}
}
