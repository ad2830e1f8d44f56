//go:build !race

package evhttp_test

// clRace reports whether the race detector is on: it allocates, so
// allocation budgets are not checked under it.
const clRace = false
