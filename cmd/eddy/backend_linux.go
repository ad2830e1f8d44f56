package main

import (
	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/internal/poller"
)

// nativeBackend names the system's own readiness interface.
const nativeBackend = "epoll"

func newNativeBackend() (eddy.Backend, error) { return poller.NewEpoll() }
