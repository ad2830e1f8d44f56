//go:build unix && !linux

package evnet

// Reads, writes and accepts through x/sys/unix, where the raw system
// calls of rawio_linux.go are not used.

import (
	"golang.org/x/sys/unix"

	"github.com/eddyloop/eddy/internal/sock"
)

func rawRead(fd int, p []byte) (int, error)  { return unix.Read(fd, p) }
func rawWrite(fd int, p []byte) (int, error) { return unix.Write(fd, p) }
func rawAccept(fd int) (int, error)          { return sock.Accept(fd) }
