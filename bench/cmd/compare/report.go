package main

import (
	"fmt"
	"image/color"
	"os"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Metric names of the summary: the workload, "_", what is measured.
const (
	mEcho64Rate = "echo64_mps"     // msgs/s
	mEcho64CPU  = "echo64_per_cpu" // msgs per server CPU-second
	mEcho64P50  = "echo64_p50"
	mEcho64P99  = "echo64_p99"
	mEcho64Srv  = "echo64_srv_pct" // server CPU share, %
	mEcho1kRate = "echo1k_mps"
	mEcho1kCPU  = "echo1k_per_cpu"
	mEcho1kP50  = "echo1k_p50"
	mEcho1kP99  = "echo1k_p99"
	mEcho1kSrv  = "echo1k_srv_pct"
	mCostUs     = "cost_us" // server CPU µs per message
	mCostRate   = "cost_mps"
	mCostDrop   = "cost_drop_pct"
	mCostP50    = "cost_p50"
	mCostP99    = "cost_p99"
	mCostSrv    = "cost_srv_pct"
	mMemIdle    = "mem_idle" // B per idle connection
	mMemMsg     = "mem_msg"  // B per connection after one echo

	mWrkRate   = "wrk_mps"     // requests/s, as wrk reports them
	mWrkCPU    = "wrk_per_cpu" // requests per server CPU-second
	mWrkP50    = "wrk_p50"
	mWrkP99    = "wrk_p99"
	mWrkSrv    = "wrk_srv_pct"
	mWrkLoad   = "wrk_load_pct" // wrk's CPU share, %
	mWrkErr    = "wrk_errors"   // socket errors and non-2xx responses
	mPipeRate  = "pipeline_mps"
	mPipeCPU   = "pipeline_per_cpu"
	mPipeSrv   = "pipeline_srv_pct"
	mPipeLoad  = "pipeline_load_pct"
	mPipeErr   = "pipeline_errors"
	mHCostUs   = "http-cost_us" // server CPU µs per request
	mHCostRate = "http-cost_mps"
	mHCostDrop = "http-cost_drop_pct"
	mHCostP50  = "http-cost_p50"
	mHCostP99  = "http-cost_p99"
	mHCostSrv  = "http-cost_srv_pct"
	mHMemIdle  = "http-mem_idle" // B per idle connection
	mHMemReq   = "http-mem_msg"  // B per keep-alive connection after one request
)

// metric returns the name of what of workload w.
func metric(w, what string) string { return w + "_" + what }

// workloadOf returns the workload of metric m.
func workloadOf(m string) string {
	w, _, _ := strings.Cut(m, "_")
	return w
}

// summary holds the per-round values and the failures of every peer.
type summary struct {
	vals map[string]map[string][]float64 // peer, metric -> one value per round
	errs map[string][]string             // peer -> "workload rN: error"
	gate map[string]string               // peer -> "pass", or "FAIL (check)" once it failed the HTTP gate
}

func (d *driver) summarize() *summary {
	s := &summary{vals: map[string]map[string][]float64{}, errs: map[string][]string{}, gate: map[string]string{}}
	add := func(peer, m string, v float64) {
		if s.vals[peer] == nil {
			s.vals[peer] = map[string][]float64{}
		}
		s.vals[peer][m] = append(s.vals[peer][m], v)
	}
	for _, smp := range d.samples {
		if smp.Workload == wCheck && len(smp.Check) > 0 {
			if smp.Error == "" {
				if s.gate[smp.Peer] == "" {
					s.gate[smp.Peer] = "pass"
				}
				continue
			}
			if !s.failedGate(smp.Peer) {
				failed := "?"
				for _, c := range smp.Check {
					if c.Err != "" {
						failed = c.Name
						break
					}
				}
				s.gate[smp.Peer] = "FAIL (" + failed + ")"
			}
			s.errs[smp.Peer] = append(s.errs[smp.Peer], fmt.Sprintf("failed the HTTP check in round %d, so its HTTP workloads were not measured: %s", smp.Round, smp.Error))
			continue
		}
		if smp.Error != "" || smp.Result == nil {
			s.errs[smp.Peer] = append(s.errs[smp.Peer], fmt.Sprintf("%s r%d: %s", smp.Workload, smp.Round, smp.Error))
			continue
		}
		r, w, peer := smp.Result, smp.Workload, smp.Peer
		switch w {
		case wMem, wHMem:
			add(peer, metric(w, "idle"), float64(r.IdlePerConn))
			add(peer, metric(w, "msg"), float64(r.MsgPerConn))
			continue
		case wCost, wHCost:
			if r.Msgs > 0 && r.SrvCPU > 0 {
				add(peer, metric(w, "us"), r.SrvCPU/float64(r.Msgs)*1e6)
			}
			if tot := r.Msgs + r.Dropped; tot > 0 {
				add(peer, metric(w, "drop_pct"), 100*float64(r.Dropped)/float64(tot))
			}
		default: // echo64, echo1k, wrk, pipeline
			if r.SrvCPU > 0 {
				add(peer, metric(w, "per_cpu"), float64(r.Msgs)/r.SrvCPU)
			}
		}
		add(peer, metric(w, "mps"), r.MsgsPerS)
		add(peer, metric(w, "p50"), float64(r.P50us))
		add(peer, metric(w, "p99"), float64(r.P99us))
		if r.WindowSec > 0 {
			add(peer, metric(w, "srv_pct"), 100*r.SrvCPU/r.WindowSec)
		}
		if r.Mode == "wrk" {
			if r.WindowSec > 0 {
				add(peer, metric(w, "load_pct"), 100*r.LoadCPU/r.WindowSec)
			}
			add(peer, metric(w, "errors"), float64(r.Errors))
		}
	}
	return s
}

// failedGate reports whether peer failed the HTTP gate in any round.
func (s *summary) failedGate(peer string) bool { return strings.HasPrefix(s.gate[peer], "FAIL") }

// median returns the median of peer's metric over the rounds; nothing for
// the HTTP metrics of a server that failed the HTTP gate.
func (s *summary) median(peer, m string) (float64, bool) {
	if protoOf(workloadOf(m)) == pHTTP && s.failedGate(peer) {
		return 0, false
	}
	v := slices.Clone(s.vals[peer][m])
	if len(v) == 0 {
		return 0, false
	}
	slices.Sort(v)
	if n := len(v); n%2 == 0 {
		return (v[n/2-1] + v[n/2]) / 2, true
	}
	return v[len(v)/2], true
}

// best returns the Go peer with the highest (or lowest) median of m.
func (s *summary) best(d *driver, m string, lowest bool) (string, float64, bool) {
	var name string
	var bv float64
	for _, p := range d.peers {
		if p.kind != "go" {
			continue
		}
		v, ok := s.median(p.name, m)
		if !ok || (lowest && v <= 0) || (strings.HasSuffix(m, "_us") && s.overloaded(p.name, workloadOf(m))) {
			continue
		}
		if name == "" || (lowest && v < bv) || (!lowest && v > bv) {
			name, bv = p.name, v
		}
	}
	return name, bv, name != ""
}

// maxDropPct is the share of dropped slots in a cost workload above which
// a server did not keep up with the offered rate: its µs/msg was measured
// at a lower load, so it is flagged and never the best Go peer.
const maxDropPct = 5

// overloaded reports whether peer dropped too many slots in the cost
// workload w (wCost or wHCost).
func (s *summary) overloaded(peer, w string) bool {
	v, ok := s.median(peer, metric(w, "drop_pct"))
	return ok && v > maxDropPct
}

// cref returns the median of m for the C reference, if it ran.
func (s *summary) cref(d *driver, m string) (float64, bool) {
	for _, p := range d.peers {
		if p.kind == "c" {
			return s.median(p.name, m)
		}
	}
	return 0, false
}

// cell formats peer's median of m with its ratios to the best Go peer and
// to the C reference.
func (s *summary) cell(d *driver, peer, m string, lowest bool, format string) string {
	v, ok := s.median(peer, m)
	if !ok {
		return "–"
	}
	out := fmt.Sprintf(format, v)
	var ratios []string
	if _, bv, ok := s.best(d, m, lowest); ok && bv != 0 {
		ratios = append(ratios, fmt.Sprintf("%.2f", v/bv))
	} else {
		ratios = append(ratios, "–")
	}
	if cv, ok := s.cref(d, m); ok && cv != 0 {
		ratios = append(ratios, fmt.Sprintf("%.2f", v/cv))
	}
	return out + " (" + strings.Join(ratios, ", ") + ")"
}

func dagger(b bool) string {
	if b {
		return " †"
	}
	return ""
}

func (s *summary) plain(peer, m, format string) string {
	if v, ok := s.median(peer, m); ok {
		return fmt.Sprintf(format, v)
	}
	return "–"
}

func (s *summary) pair(peer, a, b string) string {
	x, ok1 := s.median(peer, a)
	y, ok2 := s.median(peer, b)
	if !ok1 || !ok2 {
		return "–"
	}
	return fmt.Sprintf("%.0f / %.0f", x, y)
}

// ratioLabel is what the brackets hold for proto: the ratio to the best Go
// peer, and to C when the C reference is in the run for proto.
func ratioLabel(d *driver, proto string) string {
	for _, p := range d.peers {
		if p.kind == "c" && p.available(proto) {
			return "×best Go, ×C"
		}
	}
	return "×best Go"
}

// bestLine names the best Go peer of each column.
func (s *summary) bestLine(d *driver, cols []bestCol) string {
	var bests []string
	for _, x := range cols {
		if name, _, ok := s.best(d, x.m, x.lowest); ok {
			bests = append(bests, x.label+" "+name)
		}
	}
	if len(bests) == 0 {
		return ""
	}
	return fmt.Sprintf("\nBest Go peer: %s.\n", strings.Join(bests, ", "))
}

// adapterLine compares eddy's http.Handler adapter with net/http, both
// serving a standard handler, when both ran.
func (s *summary) adapterLine() string {
	var parts []string
	for _, m := range []struct{ label, m string }{{"wrk", mWrkCPU}, {"pipelined", mPipeCPU}} {
		a, ok1 := s.median("eddy-adapter", m.m)
		n, ok2 := s.median("stdlib", m.m)
		if ok1 && ok2 && n > 0 {
			parts = append(parts, fmt.Sprintf("%s %.2fx", m.label, a/n))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return fmt.Sprintf("\neddy-adapter ÷ stdlib (net/http), requests per server CPU-second: %s.\n", strings.Join(parts, ", "))
}

type bestCol struct {
	label, m string
	lowest   bool
}

// markdown renders the result tables of the protocols in the run.
func (s *summary) markdown(d *driver) string {
	var b strings.Builder
	if d.runsProto(pEcho) {
		s.echoTables(d, &b)
	}
	if d.runsProto(pHTTP) {
		if b.Len() > 0 {
			b.WriteString("\n")
		}
		s.httpTables(d, &b)
	}
	var notes []string
	for _, x := range []struct{ w, unit string }{{wCost, "msgs/s"}, {wHCost, "req/s"}} {
		for _, p := range d.peers {
			if d.runs(x.w) && s.overloaded(p.name, x.w) {
				notes = append(notes, fmt.Sprintf("- † %s dropped %s%% of the %s workload's slots (over %d%%): it did not keep up with %.0f %s, so its µs per %s is at a lower load and not comparable",
					p.name, s.plain(p.name, metric(x.w, "drop_pct"), "%.1f"), x.w, maxDropPct, d.cfg.costRate, x.unit, map[string]string{wCost: "message", wHCost: "request"}[x.w]))
			}
		}
	}
	for _, p := range d.peers {
		notes = append(notes, unavailableNotes(d, p)...)
		for _, e := range s.errs[p.name] {
			notes = append(notes, fmt.Sprintf("- %s %s", p.name, e))
		}
	}
	if len(notes) > 0 {
		fmt.Fprintf(&b, "\nNotes:\n%s\n", strings.Join(notes, "\n"))
	}
	return b.String()
}

// unavailableNotes says why p is not available for the protocols of the
// run, naming the protocol when p takes part with both and they differ.
func unavailableNotes(d *driver, p *peer) []string {
	var run []string // the protocols of the run that p speaks
	for _, proto := range []string{pEcho, pHTTP} {
		if d.runsProto(proto) && p.speaks(proto) {
			run = append(run, proto)
		}
	}
	same := len(run) == 2 && p.reason[pEcho] == p.reason[pHTTP]
	var out []string
	for _, proto := range run {
		why := p.reason[proto]
		switch {
		case why == "":
		case len(run) == 1 || same:
			return []string{fmt.Sprintf("- %s: not available: %s", p.name, why)}
		default:
			out = append(out, fmt.Sprintf("- %s: not available for %s: %s", p.name, proto, why))
		}
	}
	return out
}

// echoTables renders the tables of the echo workloads.
func (s *summary) echoTables(d *driver, b *strings.Builder) {
	c := d.cfg
	fmt.Fprintf(b, "## Echo servers, one loop on one CPU (median of %d round(s))\n\n", c.rounds)
	fmt.Fprintf(b, "%d connections, closed loop; cost: %.0f msgs/s of 64 B offered in total; memory: %d connections. "+
		"In brackets: %s (ratios of medians; for msgs per CPU-second higher is better, for µs and bytes lower is better).\n\n",
		c.conns, c.costRate, c.idleConns, ratioLabel(d, pEcho))
	fmt.Fprintf(b, "| server | echo 64 B msgs/s | 64 B msgs per server CPU-s | echo 1 KiB msgs/s | 1 KiB msgs per server CPU-s | cost: server CPU µs/msg | idle B/conn | B/conn after one echo |\n")
	fmt.Fprintf(b, "|---|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, p := range d.peers {
		if !p.speaks(pEcho) {
			continue
		}
		if !p.available(pEcho) {
			fmt.Fprintf(b, "| %s | %s: not available | | | | | | |\n", p.name, p.name)
			continue
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", p.name,
			s.plain(p.name, mEcho64Rate, "%.0f"), s.cell(d, p.name, mEcho64CPU, false, "%.0f"),
			s.plain(p.name, mEcho1kRate, "%.0f"), s.cell(d, p.name, mEcho1kCPU, false, "%.0f"),
			s.cell(d, p.name, mCostUs, true, "%.2f")+dagger(s.overloaded(p.name, wCost)),
			s.cell(d, p.name, mMemIdle, true, "%.0f"), s.cell(d, p.name, mMemMsg, true, "%.0f"))
	}
	b.WriteString(s.bestLine(d, []bestCol{{"64 B", mEcho64CPU, false}, {"1 KiB", mEcho1kCPU, false},
		{"cost", mCostUs, true}, {"idle", mMemIdle, true}, {"after echo", mMemMsg, true}}))

	fmt.Fprintf(b, "\n### Latency and load\n\n")
	fmt.Fprintf(b, "| server | 64 B p50 / p99 µs | 1 KiB p50 / p99 µs | cost p50 / p99 µs | cost msgs/s achieved | cost slots dropped %% | server CPU %% (64 B, 1 KiB, cost) |\n")
	fmt.Fprintf(b, "|---|--:|--:|--:|--:|--:|--:|\n")
	for _, p := range d.peers {
		if !p.available(pEcho) {
			continue
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s, %s, %s |\n", p.name,
			s.pair(p.name, mEcho64P50, mEcho64P99), s.pair(p.name, mEcho1kP50, mEcho1kP99), s.pair(p.name, mCostP50, mCostP99),
			s.plain(p.name, mCostRate, "%.0f"), s.plain(p.name, mCostDrop, "%.1f"),
			s.plain(p.name, mEcho64Srv, "%.0f"), s.plain(p.name, mEcho1kSrv, "%.0f"), s.plain(p.name, mCostSrv, "%.0f"))
	}
}

// httpTables renders the tables of the HTTP workloads.
func (s *summary) httpTables(d *driver, b *strings.Builder) {
	c := d.cfg
	fmt.Fprintf(b, "## HTTP servers, one loop on one CPU (median of %d round(s))\n\n", c.rounds)
	fmt.Fprintf(b, "Every request is answered with the 13-byte \"Hello, World!\" 200 keep-alive response. "+
		"Check: the correctness gate (one request then a second on the same connection, 16 pipelined in one write, "+
		"the same 16 in 7-byte writes, 1024 pipelined), run before measuring; a server that fails it is not measured. "+
		"wrk: one thread, %d connections, %v windows after a %v warm-up; pipelined: %d requests per write. "+
		"Cost: %.0f req/s offered in total over %d connections, one GET in flight on each. "+
		"Memory: %d keep-alive connections after one request each. "+
		"In brackets: %s (ratios of medians; for requests per CPU-second higher is better, for µs and bytes lower is better).\n\n",
		c.conns, c.wrkDur, c.wrkWarmup, c.depth, c.costRate, c.conns, c.idleConns, ratioLabel(d, pHTTP))
	fmt.Fprintf(b, "| server | check | wrk req/s | req per server CPU-s | pipelined ×%d req/s | pipelined req per server CPU-s | cost: server CPU µs/req | B/conn after one request | idle B/conn |\n", c.depth)
	fmt.Fprintf(b, "|---|:-:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, p := range d.peers {
		if !p.speaks(pHTTP) {
			continue
		}
		if !p.available(pHTTP) {
			fmt.Fprintf(b, "| %s | %s: not available | | | | | | | |\n", p.name, p.name)
			continue
		}
		gate := s.gate[p.name]
		if gate == "" {
			gate = "–"
		}
		if s.failedGate(p.name) {
			fmt.Fprintf(b, "| %s | %s | not measured | | | | | | |\n", p.name, gate)
			continue
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", p.name, gate,
			s.plain(p.name, mWrkRate, "%.0f"), s.cell(d, p.name, mWrkCPU, false, "%.0f"),
			s.plain(p.name, mPipeRate, "%.0f"), s.cell(d, p.name, mPipeCPU, false, "%.0f"),
			s.cell(d, p.name, mHCostUs, true, "%.2f")+dagger(s.overloaded(p.name, wHCost)),
			s.cell(d, p.name, mHMemReq, true, "%.0f"), s.cell(d, p.name, mHMemIdle, true, "%.0f"))
	}
	b.WriteString(s.bestLine(d, []bestCol{{"wrk", mWrkCPU, false}, {"pipelined", mPipeCPU, false},
		{"cost", mHCostUs, true}, {"after one request", mHMemReq, true}, {"idle", mHMemIdle, true}}))
	b.WriteString(s.adapterLine())

	fmt.Fprintf(b, "\n### HTTP latency and load\n\n")
	fmt.Fprintf(b, "| server | wrk p50 / p99 µs | cost p50 / p99 µs | cost req/s achieved | cost slots dropped %% | server CPU %% (wrk, pipelined, cost) | wrk CPU %% (wrk, pipelined) | wrk errors (wrk, pipelined) |\n")
	fmt.Fprintf(b, "|---|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, p := range d.peers {
		if !p.available(pHTTP) || s.failedGate(p.name) {
			continue
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s, %s, %s | %s, %s | %s, %s |\n", p.name,
			s.pair(p.name, mWrkP50, mWrkP99), s.pair(p.name, mHCostP50, mHCostP99),
			s.plain(p.name, mHCostRate, "%.0f"), s.plain(p.name, mHCostDrop, "%.1f"),
			s.plain(p.name, mWrkSrv, "%.0f"), s.plain(p.name, mPipeSrv, "%.0f"), s.plain(p.name, mHCostSrv, "%.0f"),
			s.plain(p.name, mWrkLoad, "%.0f"), s.plain(p.name, mPipeLoad, "%.0f"),
			s.plain(p.name, mWrkErr, "%.0f"), s.plain(p.name, mPipeErr, "%.0f"))
	}
}

// chart draws one bar chart per headline metric into a PNG file.
func (s *summary) chart(d *driver, path string) error {
	panels := []struct{ title, ylabel, m string }{
		{"echo 64 B, 100 conns", "msgs per server CPU-second", mEcho64CPU},
		{"echo 1 KiB, 100 conns", "msgs per server CPU-second", mEcho1kCPU},
		{fmt.Sprintf("cost at %.0f msgs/s", d.cfg.costRate), "server CPU µs per message", mCostUs},
		{fmt.Sprintf("memory, %d connections", d.cfg.idleConns), "RSS bytes per idle connection", mMemIdle},
		{fmt.Sprintf("HTTP, wrk, %d conns", d.cfg.conns), "requests per server CPU-second", mWrkCPU},
		{fmt.Sprintf("HTTP pipelined ×%d, %d conns", d.cfg.depth, d.cfg.conns), "requests per server CPU-second", mPipeCPU},
		{fmt.Sprintf("HTTP cost at %.0f req/s", d.cfg.costRate), "server CPU µs per request", mHCostUs},
		{fmt.Sprintf("HTTP memory, %d keep-alive connections", d.cfg.idleConns), "RSS bytes per conn after one request", mHMemReq},
	}
	colors := map[string]color.Color{
		"eddy": color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
		"go":   color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
		"c":    color.RGBA{R: 0x7f, G: 0x7f, B: 0x7f, A: 0xff},
	}
	var plots []*plot.Plot
	for _, pn := range panels {
		p := plot.New()
		p.Title.Text = pn.title
		p.Y.Label.Text = pn.ylabel
		var names []string
		for _, peer := range d.peers {
			v, ok := s.median(peer.name, pn.m)
			if !ok {
				continue
			}
			// One bar chart per peer, so each kind gets its colour.
			vals := make(plotter.Values, len(names)+1)
			vals[len(names)] = v
			bars, err := plotter.NewBarChart(vals, vg.Points(22))
			if err != nil {
				return err
			}
			bars.Color = colors[peer.kind]
			bars.LineStyle.Width = 0
			p.Add(bars)
			names = append(names, peer.name)
		}
		if len(names) == 0 {
			continue
		}
		p.NominalX(names...)
		p.X.Min, p.X.Max = -0.6, float64(len(names))-0.4
		p.Y.Min = 0
		plots = append(plots, p)
	}
	if len(plots) == 0 {
		return fmt.Errorf("nothing to draw")
	}
	cols := 1 // two columns when they fill every row
	if len(plots)%2 == 0 {
		cols = 2
	}
	rows := (len(plots) + cols - 1) / cols
	grid := make([][]*plot.Plot, rows)
	for i := range grid {
		grid[i] = make([]*plot.Plot, cols)
	}
	for i, p := range plots {
		grid[i/cols][i%cols] = p
	}
	img := vgimg.New(vg.Points(float64(460*cols)), vg.Points(float64(320*rows)))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Millimeter * 6, PadY: vg.Millimeter * 6,
		PadTop: vg.Millimeter * 3, PadBottom: vg.Millimeter * 3, PadLeft: vg.Millimeter * 3, PadRight: vg.Millimeter * 3}
	canvases := plot.Align(grid, tiles, dc)
	for i := range grid {
		for j, p := range grid[i] {
			if p != nil {
				p.Draw(canvases[i][j])
			}
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
