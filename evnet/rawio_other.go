//go:build unix && !linux

package evnet

import (
	"golang.org/x/sys/unix"

	"github.com/eddyloop/eddy/internal/sock"
)

func rawRead(fd int, p []byte) (int, error)  { return unix.Read(fd, p) }
func rawWrite(fd int, p []byte) (int, error) { return unix.Write(fd, p) }
func rawAccept(fd int) (int, error)          { return sock.Accept(fd) }
