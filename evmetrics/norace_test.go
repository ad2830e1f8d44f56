//go:build !race

package evmetrics_test

const raceOn = false
