package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eddyloop/eddy/bench/internal/httpcheck"
	"github.com/eddyloop/eddy/bench/internal/procstat"
)

func TestSummaryTableAndChart(t *testing.T) {
	d := testDriver(t, "echo", "eddy", "gnet", "evio", "cepoll")
	d.cfg.rounds = 3
	d.peers[0].reason[pEcho] = "no echo command"
	echo := func(msgs int64, cpu float64) *procstat.Result {
		return &procstat.Result{Mode: "echo", WindowSec: 1, Msgs: msgs, MsgsPerS: float64(msgs), SrvCPU: cpu, P50us: 100, P99us: 900}
	}
	for r := 1; r <= 3; r++ {
		for _, x := range []struct {
			peer string
			msgs int64
			mem  int64
		}{{"gnet", 80000, 560}, {"evio", 60000, 330}, {"cepoll", 100000, 60}} {
			d.record(sample{Round: r, Peer: x.peer, Workload: wEcho64, Result: echo(x.msgs+int64(r), 0.8)})
			d.record(sample{Round: r, Peer: x.peer, Workload: wEcho1k, Result: echo(x.msgs, 0.8)})
			d.record(sample{Round: r, Peer: x.peer, Workload: wCost, Result: echo(30000, 30000/float64(x.msgs))})
			d.record(sample{Round: r, Peer: x.peer, Workload: wMem, Result: &procstat.Result{Mode: "idle", IdlePerConn: x.mem, MsgPerConn: x.mem + 10}})
		}
	}
	d.record(sample{Round: 1, Peer: "evio", Workload: wMem, Error: "load killed after 4m0s"})
	s := d.summarize()
	if v, _ := s.median("gnet", mEcho64CPU); v != 100002.5 { // (80000+2)/0.8
		t.Errorf("median of gnet's 64 B msgs per CPU-s = %v", v)
	}
	table := s.markdown(d)
	for _, want := range []string{
		"| eddy | eddy: not available |",
		"| gnet | 80002 | 100002 (1.00, 0.80) |", // best Go peer; C does 125002
		"| 330 (1.00, 5.50) |",                   // evio's idle bytes: best Go, 5.5× C
		"Best Go peer: 64 B gnet, 1 KiB gnet, cost gnet, idle evio",
		"- eddy: not available: no echo command",
		"- evio mem r1: load killed after 4m0s",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	png := filepath.Join(t.TempDir(), "chart.png")
	if err := s.chart(d, png); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(png); err != nil || fi.Size() < 1000 {
		t.Fatalf("chart: %v, %v", fi, err)
	}
}

// testDriver returns a driver for the workloads wl and the named peers, as
// setup would make it, without building or running anything.
func testDriver(t *testing.T, wl string, names ...string) *driver {
	t.Helper()
	ws, err := parseWorkloads(wl)
	if err != nil {
		t.Fatal(err)
	}
	d := &driver{cfg: config{rounds: 1, workloads: ws, conns: 100, costRate: 30000, idleConns: 10000,
		wrkWarmup: 2 * time.Second, wrkDur: 10 * time.Second, pipeDur: 10 * time.Second, depth: 16}}
	known := knownPeers()
	for _, n := range names {
		d.peers = append(d.peers, known[n])
	}
	return d
}

func TestHTTPTableAndChart(t *testing.T) {
	d := testDriver(t, "echo,http", "eddy", "gnet", "stdlib", "fasthttp", "hertz", "cepoll")
	d.peers[0].reason[pHTTP] = "no serve command (eddy: unknown command \"serve\")"
	wrk := func(msgs int64, cpu float64) *procstat.Result {
		return &procstat.Result{Mode: "wrk", Proto: "http", WindowSec: 1, Msgs: msgs, MsgsPerS: float64(msgs), SrvCPU: cpu, LoadCPU: 0.9, P50us: 700, P99us: 2100}
	}
	pass := []httpcheck.Result{{Name: "single"}, {Name: "pipeline16"}, {Name: "fragmented"}, {Name: "pipeline1k"}}
	for _, x := range []struct {
		peer      string
		msgs      int64
		cpu       float64 // server CPU-s in the wrk windows
		costCPU   float64 // server CPU-s for 30,000 requests
		dropped   int64
		memPerReq int64
	}{
		{"gnet", 90000, 0.9, 0.3, 0, 1000},
		{"stdlib", 50000, 1.0, 0.6, 0, 9000},
		{"fasthttp", 70000, 1.0, 0.15, 10000, 4000}, // dropped 25%: †, never the best
		{"cepoll", 120000, 0.8, 0.15, 0, 100},
	} {
		d.record(sample{Round: 1, Peer: x.peer, Workload: wCheck, Check: pass})
		d.record(sample{Round: 1, Peer: x.peer, Workload: wWrk, Result: wrk(x.msgs, x.cpu)})
		d.record(sample{Round: 1, Peer: x.peer, Workload: wPipe, Result: wrk(4*x.msgs, x.cpu)})
		d.record(sample{Round: 1, Peer: x.peer, Workload: wHCost, Result: &procstat.Result{Mode: "echo", Proto: "http", WindowSec: 1,
			Msgs: 30000, MsgsPerS: 30000, SrvCPU: x.costCPU, Dropped: x.dropped, P50us: 150, P99us: 800}})
		d.record(sample{Round: 1, Peer: x.peer, Workload: wHMem, Result: &procstat.Result{Mode: "idle", Proto: "http",
			IdlePerConn: x.memPerReq / 2, MsgPerConn: x.memPerReq}})
	}
	failed := slices.Clone(pass)
	failed[3].Err = "response 3 of 1024: body \"HTTP/1.1 200 \", want \"Hello, World!\""
	d.record(sample{Round: 1, Peer: "hertz", Workload: wCheck, Check: failed, Error: "pipeline1k: " + failed[3].Err})
	d.record(sample{Round: 1, Peer: "stdlib", Workload: wEcho64, Result: &procstat.Result{Mode: "echo", WindowSec: 1, Msgs: 1000, MsgsPerS: 1000, SrvCPU: 0.5}})

	s := d.summarize()
	table := s.markdown(d)
	for _, want := range []string{
		"## Echo servers",
		"| stdlib | 1000 | 2000 (1.00) |", // echo: the C reference did not run
		"## HTTP servers",
		"| server | check | wrk req/s | req per server CPU-s | pipelined ×16 req/s |",
		"| eddy | eddy: not available |",
		"| gnet | pass | 90000 | 100000 (1.00, 0.67) | 360000 | 400000 (1.00, 0.67) | 10.00 (1.00, 2.00) | 1000 (1.00, 10.00) | 500 (1.00, 10.00) |",
		"| stdlib | pass | 50000 | 50000 (0.50, 0.33) |",
		"| fasthttp | pass | 70000 | 70000 (0.70, 0.47) | 280000 | 280000 (0.70, 0.47) | 5.00 (0.50, 1.00) † |",
		"| hertz | FAIL (pipeline1k) | not measured |",
		"| cepoll | pass | 120000 | 150000 (1.50, 1.00) |",
		"Best Go peer: wrk gnet, pipelined gnet, cost gnet, after one request gnet, idle gnet.",
		"| gnet | 700 / 2100 | 150 / 800 | 30000 | 0.0 | 90, 90, 30 | 90, 90 | 0, 0 |",
		"- † fasthttp dropped 25.0% of the http-cost workload's slots",
		"- eddy: not available for http: no serve command",
		"- hertz failed the HTTP check in round 1, so its HTTP workloads were not measured: pipeline1k: response 3 of 1024",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	for _, unwanted := range []string{"| fasthttp | –", "| hertz | –", "| hertz | pass"} {
		if strings.Contains(table, unwanted) {
			t.Errorf("table has %q:\n%s", unwanted, table)
		}
	}
	if strings.Contains(table[:strings.Index(table, "## HTTP")], "fasthttp") {
		t.Errorf("the echo table lists the HTTP-only fasthttp:\n%s", table)
	}
	png := filepath.Join(t.TempDir(), "chart.png")
	if err := s.chart(d, png); err != nil {
		t.Fatal(err)
	}

	// HTTP only: no echo table, and eddy's reason without "for http".
	d.cfg.workloads, _ = parseWorkloads("http")
	table = d.summarize().markdown(d)
	if strings.Contains(table, "## Echo") || !strings.Contains(table, "- eddy: not available: no serve command") {
		t.Errorf("HTTP-only table:\n%s", table)
	}
}

func TestParseWrk(t *testing.T) {
	plain := `Running 10s test @ http://127.0.0.1:24001/
  1 threads and 100 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.04ms  188.51us   6.58ms   91.17%
    Req/Sec    96.90k     3.07k  101.47k    71.00%
  Latency Distribution
     50%  998.00us
     75%    1.07ms
     90%    1.16ms
     99%    1.66ms
  964345 requests in 10.00s, 117.72MB read
Requests/sec:  96404.47
Transfer/sec:     11.77MB
`
	r, err := parseWrk(plain)
	if err != nil {
		t.Fatal(err)
	}
	if r.Mode != "wrk" || r.Msgs != 964345 || r.WindowSec != 10 || r.MsgsPerS != 96404.47 || r.P50us != 998 || r.P99us != 1660 || r.Errors != 0 {
		t.Errorf("parseWrk = %+v", r)
	}
	errs := strings.Replace(plain, "Requests/sec", "  Socket errors: connect 0, read 3, write 1, timeout 2\n  Non-2xx or 3xx responses: 4\nRequests/sec", 1)
	errs = strings.Replace(errs, "in 10.00s", "in 1.00m", 1)
	if r, err := parseWrk(errs); err != nil || r.Errors != 10 || r.WindowSec != 60 {
		t.Errorf("with errors: %+v, %v", r, err)
	}
	if _, err := parseWrk("unable to connect to 127.0.0.1:1 Connection refused\n"); err == nil {
		t.Error("no error for output without a summary")
	}
	zero := strings.Replace(plain, "964345 requests", "0 requests", 1)
	if _, err := parseWrk(zero); err == nil {
		t.Error("no error for zero requests")
	}
}

func TestWorkloadsAndPlan(t *testing.T) {
	if _, err := parseWorkloads("echo,bogus"); err == nil {
		t.Error("no error for an unknown workload")
	}
	d := testDriver(t, "cost,http-mem", "eddy", "gnet", "fasthttp")
	d.peers[0].reason[pHTTP] = "no serve command"
	for i, want := range []string{"cost", "cost http-check http-mem", "http-check http-mem"} {
		if got := strings.Join(d.plan(d.peers[i]), " "); got != want {
			t.Errorf("plan(%s) = %q, want %q", d.peers[i].name, got, want)
		}
	}
	if got := d.argv(d.peers[0], pHTTP, "127.0.0.1:9"); !slices.Equal(got[1:], []string{"serve", "-addr", "127.0.0.1:9", "-loops", "1", "-quiet"}) {
		t.Errorf("eddy's HTTP command line: %q", got)
	}
	if got := d.argv(d.peers[1], pEcho, "127.0.0.1:9"); !slices.Equal(got[1:], []string{"-addr", "127.0.0.1:9", "-mode", "echo"}) {
		t.Errorf("gnet's echo command line: %q", got)
	}
}

func TestProgressLine(t *testing.T) {
	p := &progress{start: time.Now().Add(-10 * time.Second), total: 40 * time.Second, doneEst: 10 * time.Second, text: "round 1/1 gnet echo64"}
	if got := p.line(); !strings.HasPrefix(got, "round 1/1 gnet echo64 |  25% | 10s elapsed, ~30s left") {
		t.Errorf("line() = %q", got)
	}
}
