package main

// The flags every server shares: -backend, the readiness backend of its
// loops, chosen by name with eddy.Config.BackendName, -hold
// (eddy.Config.HoldProcessor) and -loops.

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evnet"
)

// backendFlag defines the -backend flag of fs.
func backendFlag(fs *flag.FlagSet) *string {
	names := eddy.Backends()
	return fs.String("backend", "auto", fmt.Sprintf("readiness backend `NAME`: %s (auto: %s)", strings.Join(names, ", "), names[0]))
}

// holdFlag defines the -hold flag of fs: on by default, since a server's
// loops are the command's whole work (see eddy.Config.HoldProcessor).
func holdFlag(fs *flag.FlagSet) *bool {
	return fs.Bool("hold", true, "loops keep their processor while they wait for events (epoll): less CPU per wake-up, but other goroutines may wait up to ~10ms for a processor")
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

// newGroup makes the group of loops of -loops, -backend and -hold for
// the command of fs. On failure it returns nil and the exit status, after
// the message: a usage error for an unknown backend, 1 otherwise.
func newGroup(fs *flag.FlagSet, loops int, backend string, hold bool, stderr io.Writer) (*evnet.Group, int) {
	g, err := evnet.NewGroup(&evnet.GroupConfig{Loops: loops, Loop: eddy.Config{BackendName: backend, HoldProcessor: hold}})
	if errors.Is(err, eddy.ErrUnknownBackend) {
		return nil, usageError(fs, "-backend: %v", err)
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", fs.Name(), err) // "eddy serve: ..."
		return nil, 1
	}
	return g, 0
}
