// Package interop holds eddy's tests against other implementations, in a
// module of its own so that the peers never enter the library's go.mod:
//
//   - the WebSocket conformance runner (internal/wsconform) proven on
//     reference peers (gorilla/websocket and coder/websocket, as servers
//     and, mirrored, as clients) and run against the eddy ws command;
//   - evws against gorilla/websocket and coder/websocket: their clients
//     against evws's server (coder's with its compression context kept,
//     which evws's budget accepts), their servers against evws's client,
//     with and without permessage-deflate.
//
// Run it with
//
//	cd interop && go test ./...
package interop
