module github.com/eddyloop/eddy/interop

go 1.26.8

replace github.com/eddyloop/eddy => ../

require (
	github.com/eddyloop/eddy v0.0.0-00010101000000-000000000000
	github.com/gorilla/websocket v1.5.3
)
