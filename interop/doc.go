// Package interop holds eddy's tests against other implementations,
// kept out of the library's go.mod: the WebSocket conformance runner
// (internal/wsconform) proven on reference peers, and run against the
// eddy ws command.
package interop
