//go:build race

package evmetrics_test

// raceOn reports whether the race detector is on: it allocates (and
// sync.Pool drops what it is given), so allocation budgets are not checked
// under it.
const raceOn = true
