package main

import (
	"fmt"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/internal/poller"
)

// backendNames is the list of -backend values, for usage messages: the
// system's native backend and poll(2), which every unix has.
const backendNames = nativeBackend + "|poll"

// newBackend returns the readiness backend named by a -backend flag; the
// empty name returns nil, which makes eddy.NewLoop pick the system's best.
func newBackend(name string) (eddy.Backend, error) {
	switch name {
	case "":
		return nil, nil
	case "poll":
		return poller.NewPoll()
	case nativeBackend:
		return newNativeBackend()
	}
	return nil, fmt.Errorf("unknown backend %q (want %s)", name, backendNames)
}
