//go:build race

package evws_test

// raceOn reports whether the race detector is on: it allocates, so
// allocation budgets are not checked under it.
const raceOn = true
