//go:build !linux

package eddy

import "time"

func holdWait(int, time.Duration) bool { return false }

const canHoldWait = false
