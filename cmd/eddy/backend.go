package main

// The flags every server shares: -backend, the readiness backend of its
// loops, chosen by name with eddy.Config.BackendName, and -loops.

import (
	"flag"
	"fmt"
	"strings"

	"github.com/eddyloop/eddy"
)

// backendFlag defines the -backend flag of fs.
func backendFlag(fs *flag.FlagSet) *string {
	names := eddy.Backends()
	return fs.String("backend", "auto", fmt.Sprintf("readiness backend `NAME`: %s (auto: %s)", strings.Join(names, ", "), names[0]))
}

// loopsFlag defines the -loops flag of fs: one loop per processor unless
// told otherwise, as nginx's "worker_processes auto".
func loopsFlag(fs *flag.FlagSet) *int {
	return fs.Int("loops", 0, "run `N` loops, one goroutine each (0: GOMAXPROCS, one per processor; 1 for benchmarks)")
}

// count says "1 thing" or "N things" for n of noun.
func count[N int | int64 | uint64](n N, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
