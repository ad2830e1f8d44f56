// Package wsconform is eddy's WebSocket conformance runner: a table of
// cases in the numbering of Autobahn|Testsuite (groups 1-7, 9, 10, 12
// and 13, and a group 8 of eddy's own on masking), run by a fuzzing
// client against an echo server (RunClient) or by a fuzzing server
// against an echo client (Mirror), and graded as Autobahn grades: OK,
// NON-STRICT, INFORMATIONAL, UNIMPLEMENTED, FAILED.
//
// It writes its own frames, byte for byte, so that it can send what a
// conforming endpoint never would, and reads the peer's frames with
// checks of its own. It uses the standard library only and nothing of
// eddy's, so that any WebSocket implementation can be tested with it.
// See README.md for how a package's tests call it.
package wsconform
