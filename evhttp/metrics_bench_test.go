package evhttp_test

import (
	"time"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evhttp"
)

func init() {
	benchScrape = func(srv *evhttp.Server, l *eddy.Loop) func() {
		done := make(chan struct{})
		stopped := make(chan struct{})
		go func() {
			defer close(stopped)
			t := time.NewTicker(time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-done:
					return
				case <-t.C:
					sinkServer = srv.Stats()
					sinkLoop = l.Stats()
				}
			}
		}()
		return func() { close(done); <-stopped }
	}
}

// The figures a scrape read last, kept so that reading them is not
// optimized away. Scraper goroutine only.
var (
	sinkServer evhttp.ServerStats
	sinkLoop   eddy.Stats
)
