//go:build !race

package evhttp_test

// svRace reports whether the race detector is on: it allocates, so
// allocation budgets are not checked under it.
const svRace = false
