//go:build !race

package evnet_test

// raceEnabled reports a -race build, whose instrumentation allocates.
const raceEnabled = false
