module github.com/eddyloop/eddy/interop

go 1.26.8

replace github.com/eddyloop/eddy => ../

require (
	github.com/coder/websocket v1.8.15
	github.com/eddyloop/eddy v0.0.0-00010101000000-000000000000
	github.com/gorilla/websocket v1.5.3
)

require (
	golang.org/x/crypto v0.58.0 // indirect
	golang.org/x/net v0.62.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
)
