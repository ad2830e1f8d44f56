//go:build !race

package evproxy_test

const raceOn = false
