#!/usr/bin/env bash
# test.sh: eddy's test command, the one CI runs (.ci/run).
#
#   ./test.sh          everything: formatting, vet, tests with -race on the
#                      default backend and on poll(2), cross-compiled vet
#   ./test.sh quick    the same without -race, for local iteration
#
# On a fresh Debian machine it first installs what the tests need (curl, socat,
# dnsmasq, nginx, openssl, gnutls-cli, testssl.sh, the load generators
# wrk, ab and h2load, HAProxy, and the WebSocket peers: Node.js,
# python3-websockets, Chromium, and the npm package ws, which eddy proxy's
# tests use too).
set -euo pipefail
cd "$(dirname "$0")"

mode=${1:-full}
case $mode in
full) race=(-race) ;;
quick) race=() ;;
*)
	echo "usage: ./test.sh [quick]" >&2
	exit 2
	;;
esac

step() { printf '\n=== %s\n' "$*"; }

step "tools"
# command:Debian package, for each external peer the tests use
missing=()
for need in curl:curl socat:socat dnsmasq:dnsmasq-base nginx:nginx-light \
	wrk:wrk ab:apache2-utils h2load:nghttp2-client openssl:openssl gnutls-cli:gnutls-bin \
	testssl:testssl.sh haproxy:haproxy node:nodejs npm:npm; do
	tool=${need%%:*} pkg=${need#*:}
	if ! command -v "$tool" >/dev/null 2>&1 && ! [ -x "/usr/sbin/$tool" ]; then
		missing+=("$pkg")
	fi
done
# The interop module's peers (interop/peers_test.go, browser_test.go):
# Debian's python3 with its websockets, and headless Chromium; installed
# without the packages they only recommend (a sandbox, a desktop's daemons).
lean=()
if ! [ -x /usr/bin/python3 ] || ! /usr/bin/python3 -c 'import websockets' 2>/dev/null; then
	lean+=(python3-websockets)
fi
if ! [ -x /usr/bin/chromium ]; then
	lean+=(chromium)
fi
if [ ${#missing[@]} -gt 0 ] || [ ${#lean[@]} -gt 0 ]; then
	echo "installing ${missing[*]} ${lean[*]}"
	sudo=()
	if [ "$(id -u)" -ne 0 ]; then sudo=(sudo); fi
	export DEBIAN_FRONTEND=noninteractive
	log=$(mktemp)
	# Packages such as nginx-light start their service when installed;
	# the tests start their own on loopback, so forbid that for the
	# install (policy-rc.d exit 101 = "action forbidden").
	policy=/usr/sbin/policy-rc.d own_policy=
	if ! [ -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null && "${sudo[@]}" chmod +x "$policy" && own_policy=1
	fi
	if ! { "${sudo[@]}" apt-get update -qq &&
		if [ ${#missing[@]} -gt 0 ]; then "${sudo[@]}" apt-get install -y -qq "${missing[@]}"; fi &&
		if [ ${#lean[@]} -gt 0 ]; then "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${lean[@]}"; fi; } >"$log" 2>&1; then
		if [ -n "$own_policy" ]; then "${sudo[@]}" rm -f "$policy"; fi
		cat "$log" >&2
		echo "test.sh: could not install ${missing[*]} ${lean[*]}" >&2
		exit 1
	fi
	if [ -n "$own_policy" ]; then "${sudo[@]}" rm -f "$policy"; fi
	rm -f "$log"
fi
go version
# The npm ws package: the interop module's peer, and eddy proxy's client
# (cmd/eddy/proxy_peers_test.go).
(cd interop/testdata/peers && npm ci --no-audit --no-fund --loglevel=error)

step "gofmt -l"
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
	echo "$unformatted"
	echo "gofmt: the files above need gofmt -w" >&2
	exit 1
fi

step "go vet ./..."
go vet ./...

step "go test ${race[*]:+${race[*]} }./... (default backend)"
go test "${race[@]}" -count=1 -timeout 6m ./...

step "go test ./... with EDDY_DEBUG=1 (loop invariants verified every iteration) and EDDY_HOLD=1 (every loop keeps its processor while it waits)"
EDDY_DEBUG=1 EDDY_HOLD=1 go test -count=1 -timeout 6m ./...

step "go test ${race[*]:+${race[*]} }-tags evpoll ./... (poll backend forced)"
go test "${race[@]}" -count=1 -timeout 6m -tags evpoll ./...

# interop is a module of its own, so that the peers (gorilla,
# coder/websocket) never enter eddy's go.mod; go fetches them, and npm the
# ws package (interop/testdata/peers/package-lock.json).
step "interop: the WebSocket conformance table against gorilla, coder/websocket and eddy ws; evws against them, npm ws, python3-websockets and Chromium"
(cd interop && go vet ./... && go test -count=1 -short -timeout 10m ./...)

# Also a module of its own, so that Prometheus's parser never enters eddy's
# go.mod: what evmetrics writes, read back by expfmt.
step "metricscheck: evmetrics' exposition through Prometheus's text parser (expfmt)"
(cd internal/metricscheck && go vet ./... && go test "${race[@]}" -count=1 -timeout 5m ./...)

for goos in darwin freebsd openbsd netbsd; do
	step "GOOS=$goos go vet ./..."
	GOOS=$goos go vet ./...
done

printf '\n=== ok (%s)\n' "$mode"
