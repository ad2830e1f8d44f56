//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package poller

func init() { backends = append(backends, backend{"kqueue", NewKqueue}) }
