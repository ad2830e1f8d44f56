// Package evmetrics exposes the figures of eddy's loops and servers in
// the Prometheus text exposition format (version 0.0.4), for anyone to
// scrape.
//
// A Registry holds what is exposed: loops (eddy.Loop.Stats: iterations,
// time waiting and running, long iterations and slow callbacks, the loop
// lag histogram), HTTP servers (evhttp.Server.Stats: requests by status
// class, the request duration histogram, connections open, accepted and
// closed by reason, bytes in and out, TLS handshakes and their failures),
// listeners of the program's own (evnet.Listener.Stats), WebSocket
// upgraders (evws.Upgrader.Stats), and Collectors, functions that write
// families of the program's own with a Writer. The Registry is itself an
// evhttp.Handler: served by an evhttp.Server, it answers GET /metrics on
// the loop, with no goroutine per scrape.
//
//	reg := new(evmetrics.Registry)
//	reg.AddGroup(g)
//	reg.AddServer("http", srv)
//	msrv := &evhttp.Server{Handler: reg}
//	msrv.Serve(g.Loop(0), "tcp", "127.0.0.1:9100") // on loop 0's goroutine
//
// A scrape reads what the loops publish as they go, in atomic variables
// that each loop alone writes, on cache lines of its own: it never stops,
// waits for or locks a loop, and the loops pay for the figures whether
// they are scraped or not (an atomic addition or two per request, per
// read and per write; a few stores per loop iteration). Each figure is
// read once per scrape, but not all at the same instant. After the first
// scrapes, a scrape allocates nothing.
//
// # Families
//
// Loops, labelled loop="0", "1"...: eddy_loop_iterations_total,
// eddy_loop_callbacks_total, eddy_loop_io_events_total,
// eddy_loop_wakeups_total, eddy_loop_wait_seconds_total,
// eddy_loop_run_seconds_total, eddy_loop_long_iterations_total,
// eddy_loop_slow_callbacks_total, and the histogram eddy_loop_lag_seconds.
//
// Servers, labelled server="NAME" (the name given to AddServer):
// eddy_http_requests_total (and code="none", "1xx" ... "5xx"), the histogram
// eddy_http_request_duration_seconds; servers and listeners:
// eddy_connections_open, eddy_connections_accepted_total,
// eddy_connections_closed_total (and reason="eof", "local", "aborted",
// "timeout", "overflow", "reset", "tls", "loop", "error"),
// eddy_received_bytes_total, eddy_sent_bytes_total,
// eddy_tls_handshakes_total, eddy_tls_handshake_failures_total.
//
// WebSocket upgraders, labelled server="NAME": eddy_ws_upgrades_total,
// eddy_ws_refused_total, eddy_ws_open, eddy_ws_dead_peers_total,
// eddy_ws_failed_total (and code="1002", "1007", "1009").
//
// Histograms have the buckets of eddy.Histogram, in seconds: 1µs, 2µs,
// 4µs ... 4.194304s, +Inf.
//
// # Why by hand
//
// The format is written here, by hand, and not with the Prometheus client
// library (github.com/prometheus/client_golang): that library would add a
// dozen modules to eddy's go.mod (client_model, common, procfs,
// protobuf, ...), its registry of metric objects would be a second copy of
// figures that eddy's layers already keep, and it locks and allocates per
// scrape. The format is short: HELP and TYPE lines, samples with escaped
// labels, histograms as cumulative buckets with _sum and _count. What this
// package writes is checked by Prometheus's own parser (expfmt of
// github.com/prometheus/common) in a module of its own,
// internal/metricscheck, so that eddy's module never requires it.
//
// # Layers
//
// evmetrics sits above the packages whose figures it writes: it imports
// eddy, evnet, evhttp and evws, and none of them imports it. Each of
// those keeps its own figures, in plain types (eddy.Stats,
// evnet.ListenerStats, evhttp.ServerStats, evws.Stats) that a program may
// read without this package; evmetrics only names and writes them. A
// package of the program's, or one of eddy's above these (the reverse
// proxy's upstreams), adds its figures with a Collector.
package evmetrics
