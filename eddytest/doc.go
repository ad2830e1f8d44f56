// Package eddytest holds a fake clock and a scripted in-memory backend, so
// that tests of code built on an eddy loop run deterministically: no real
// descriptors, no real time, no sleeps.
//
// A Clock stands in for the system clocks (give it to the loop as
// Config.Clock), and a Backend for the kernel's readiness interface (give it
// as Config.Backend). The Backend makes time pass instantly: a Wait with a
// positive timeout and nothing ready advances its Clock by exactly the
// timeout and returns, so a loop whose next timer is an hour away runs it at
// once, with Now reading one hour later, and a timer can never fire early.
//
// Readiness is scripted. Ready makes events ready on a descriptor number
// (which need not be open: the Backend never touches the kernel), Clear
// takes them back, and a Wait reports what is ready for the descriptors
// registered with a matching interest, carrying the generation of their
// registration. CloseFd and OpenFd play a descriptor being closed and its
// number reused; Inject delivers raw events, such as a stale one from an
// older registration; FailModify, FailWait and Spurious inject faults.
//
// A Wait with a negative timeout and nothing ready blocks until another
// goroutine calls Wake, Ready or Inject: a test that runs a loop with the
// Backend and no timers must make sure something will.
//
// The Clock and the Backend are safe for concurrent use.
package eddytest
