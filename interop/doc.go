// Package interop holds eddy's tests against other implementations, in a
// module of its own so that the peers never enter the library's go.mod:
//
//   - the WebSocket conformance runner (internal/wsconform) proven on
//     reference peers (gorilla/websocket and coder/websocket, as servers
//     and, mirrored, as clients) and run against the eddy ws command;
//   - evws against gorilla/websocket and coder/websocket: their clients
//     against evws's server (coder's with its compression context kept,
//     which evws's budget accepts), their servers against evws's client,
//     with and without permessage-deflate;
//   - evws against implementations of other languages, run from
//     testdata/peers as subprocesses: the npm ws package and
//     python3-websockets as clients of evws's server and as servers of
//     evws's client, and headless Chromium on a page served by evhttp
//     (peers_test.go describes the exchange; a tap checks the frames
//     that cross the wire). A test whose peer is not installed fails
//     when the environment has CI set, and is skipped otherwise.
//
// test.sh installs the peers (Debian's python3-websockets and chromium,
// and npm ci in testdata/peers).
//
// Run it with
//
//	cd interop && go test ./...
package interop
