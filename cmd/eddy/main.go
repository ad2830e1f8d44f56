// Command eddy runs small programs built on the eddy event loop. They are
// examples of the API and fixtures for tests and benchmarks.
//
// Usage:
//
//	eddy <command> [flags] [arguments]
//
// The commands are:
//
//	hello   a hello-world HTTP/1.1 server written directly on IO watchers
//	echo    a TCP, Unix and UDP echo server on package evnet
//	resolve a dig-like DNS client on package evdns (exit 0 found, 1 NXDOMAIN/NODATA, 2 error)
//	serve   an HTTP/1.1 server on package evhttp: Hello, World!, or the files of a directory
//	ws      a WebSocket echo or broadcast server on package evws, or a client (-connect URL)
//	proxy   an HTTP reverse proxy on package evproxy, or a TCP relay (-tcp) on evnet.Relay
//
// "eddy <command> -h" lists the flags of a command. Every server flag defaults
// to a loopback address, and every server stops cleanly on SIGINT and SIGTERM
// (exit status 0). The exit status is 2 for a usage error and 1 for any other
// failure.
//
// The servers take -backend NAME, the readiness backend of their loops:
// auto (the default: the system's best), or one of eddy.Backends(), that is
// epoll or poll on Linux, kqueue or poll on the BSDs and macOS. echo and
// serve run one loop per processor (GOMAXPROCS) unless -loops N says
// otherwise; -loops 1 is the setting for single-core benchmarks. Their first
// line of output names the address, the number of loops and the backend.
//
// Every command is an example a user can copy: it uses only the public API
// of eddy and its packages, golang.org/x/sys/unix and the standard library,
// never eddy's internal packages.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

// command is one subcommand of eddy. Adding a command takes one entry in
// commands and a function that runs it.
type command struct {
	name    string
	summary string // one line for the usage message
	// run runs the command with the arguments after its name, writing to
	// stdout and stderr, and returns the process's exit status.
	run func(args []string, stdout, stderr io.Writer) int
}

// commands lists the subcommands, in the order the usage message shows them.
var commands = []command{
	{"hello", "hello-world HTTP/1.1 server written directly on IO watchers", runHello},
	{"echo", "TCP, Unix and UDP echo server on evnet", runEcho},
	{"resolve", "dig-like DNS lookups on evdns: NAME TTL TYPE DATA per line", runResolve},
	{"serve", "HTTP/1.1 server on evhttp: Hello, World!, or the files of -dir", runServe},
	{"get", "HTTP/1.1 client on evhttp, like curl -s (exit 0 2xx/3xx, 1 4xx/5xx, 2 error)", runGet},
	{"ws", "WebSocket echo (or -broadcast) server on evws, or a client with -connect URL", runWS},
	{"proxy", "HTTP reverse proxy on evproxy to -upstream URLs, or a TCP relay with -tcp", runProxy},
}

func main() {
	os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr))
}

// dispatch runs the command named by args[0] and returns the exit status.
func dispatch(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		if len(args) > 1 && args[0] == "help" {
			return dispatch([]string{args[1], "-h"}, stdout, stderr)
		}
		usage(stderr)
		return 0
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "eddy: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "usage: eddy <command> [flags] [arguments]\n\ncommands:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun \"eddy <command> -h\" for the flags of a command.\n")
}

// newFlagSet returns the flag set of a command; its usage message, written
// to stderr, starts with "usage: eddy NAME SYNOPSIS".
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("eddy "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: eddy %s %s\n\nflags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args into fs. When it returns false the command must
// stop and exit with the returned status: 0 after -h, 2 after a bad flag
// (the flag package has printed why, and the usage).
func parseFlags(fs *flag.FlagSet, args []string) (status int, ok bool) {
	switch err := fs.Parse(args); {
	case errors.Is(err, flag.ErrHelp):
		return 0, false
	case err != nil:
		return 2, false
	}
	return 0, true
}

// usageError reports a usage problem found after parsing and returns 2.
func usageError(fs *flag.FlagSet, format string, args ...any) int {
	fmt.Fprintf(fs.Output(), "%s: %s\n", fs.Name(), fmt.Sprintf(format, args...))
	fs.Usage()
	return 2
}
