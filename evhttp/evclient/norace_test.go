//go:build !race

package evclient_test

// clRace reports whether the race detector is on: it allocates, so
// allocation budgets are not checked under it.
const clRace = false
