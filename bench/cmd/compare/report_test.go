package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eddyloop/eddy/bench/internal/procstat"
)

func TestSummaryTableAndChart(t *testing.T) {
	d := &driver{
		cfg: config{rounds: 3, conns: 100, costRate: 30000, idleConns: 10000},
		peers: []*peer{
			{name: "eddy", kind: "eddy", reason: "no echo command"},
			{name: "gnet", kind: "go"},
			{name: "evio", kind: "go"},
			{name: "cepoll", kind: "c"},
		},
	}
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

func TestProgressLine(t *testing.T) {
	p := &progress{start: time.Now().Add(-10 * time.Second), total: 40 * time.Second, doneEst: 10 * time.Second, text: "round 1/1 gnet echo64"}
	if got := p.line(); !strings.HasPrefix(got, "round 1/1 gnet echo64 |  25% | 10s elapsed, ~30s left") {
		t.Errorf("line() = %q", got)
	}
}
