//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package main

import (
	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/internal/poller"
)

// nativeBackend names the system's own readiness interface.
const nativeBackend = "kqueue"

func newNativeBackend() (eddy.Backend, error) { return poller.NewKqueue() }
