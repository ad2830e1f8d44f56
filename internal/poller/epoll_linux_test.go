//go:build linux

package poller

func init() { backends = append(backends, backend{"epoll", NewEpoll}) }
