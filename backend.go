package eddy

import (
	"fmt"
	"strings"

	"github.com/eddyloop/eddy/internal/poller"
)

// Backends returns the names of the readiness backends built into eddy for
// this system, the default first: "epoll" then "poll" on Linux, "kqueue"
// then "poll" on the BSDs and macOS, "poll" alone on other unixes. Built
// with -tags evpoll, "poll" comes first. Config.BackendName takes any of
// them, and Loop.Backend reports the one a loop uses.
func Backends() []string { return poller.Names() }

// backend returns the backend c asks for: its Backend, the built-in one
// named by BackendName, or the system's default.
func (c *Config) backend() (Backend, error) {
	name := c.BackendName
	if c.Backend != nil {
		if name != "" {
			return nil, fmt.Errorf("eddy: Config.Backend and Config.BackendName %q are both set (choose one)", name)
		}
		return c.Backend, nil
	}
	var be Backend
	var err error
	if name == "" || name == "auto" {
		be, err = poller.New()
	} else {
		var ok bool
		if be, ok, err = poller.Open(name); !ok {
			return nil, fmt.Errorf("%w %q (this system has auto, %s)", ErrUnknownBackend, name, strings.Join(Backends(), ", "))
		}
	}
	if err != nil {
		return nil, fmt.Errorf("eddy: backend: %w", err)
	}
	return be, nil
}
