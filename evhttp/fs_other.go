//go:build !linux

package evhttp

// The path of an open descriptor, which cannot be told here.

// fdPath cannot tell the path of an open descriptor here: the check
// before the open is the only one (see openUnder).
func fdPath(fd int) (string, bool) { return "", false }
