// Package metricscheck checks what evmetrics writes with Prometheus's own
// parser of the text exposition format (expfmt, from
// github.com/prometheus/common). It is a module of its own, so that eddy's
// go.mod never requires the parser: it has no code, only tests, which
// test.sh runs.
package metricscheck
