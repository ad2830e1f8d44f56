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

// Metric names of the summary.
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
)

// summary holds the per-round values and the failures of every peer.
type summary struct {
	vals map[string]map[string][]float64 // peer, metric -> one value per round
	errs map[string][]string             // peer -> "workload rN: error"
}

func (d *driver) summarize() *summary {
	s := &summary{vals: map[string]map[string][]float64{}, errs: map[string][]string{}}
	add := func(peer, m string, v float64) {
		if s.vals[peer] == nil {
			s.vals[peer] = map[string][]float64{}
		}
		s.vals[peer][m] = append(s.vals[peer][m], v)
	}
	for _, smp := range d.samples {
		if smp.Error != "" || smp.Result == nil {
			s.errs[smp.Peer] = append(s.errs[smp.Peer], fmt.Sprintf("%s r%d: %s", smp.Workload, smp.Round, smp.Error))
			continue
		}
		r := smp.Result
		switch smp.Workload {
		case wMem:
			add(smp.Peer, mMemIdle, float64(r.IdlePerConn))
			add(smp.Peer, mMemMsg, float64(r.MsgPerConn))
			continue
		case wCost:
			if r.Msgs > 0 && r.SrvCPU > 0 {
				add(smp.Peer, mCostUs, r.SrvCPU/float64(r.Msgs)*1e6)
			}
			add(smp.Peer, mCostRate, r.MsgsPerS)
			if tot := r.Msgs + r.Dropped; tot > 0 {
				add(smp.Peer, mCostDrop, 100*float64(r.Dropped)/float64(tot))
			}
			add(smp.Peer, mCostP50, float64(r.P50us))
			add(smp.Peer, mCostP99, float64(r.P99us))
			add(smp.Peer, mCostSrv, 100*r.SrvCPU/r.WindowSec)
			continue
		}
		rate, cpu, p50, p99, srv := mEcho64Rate, mEcho64CPU, mEcho64P50, mEcho64P99, mEcho64Srv
		if smp.Workload == wEcho1k {
			rate, cpu, p50, p99, srv = mEcho1kRate, mEcho1kCPU, mEcho1kP50, mEcho1kP99, mEcho1kSrv
		}
		add(smp.Peer, rate, r.MsgsPerS)
		if r.SrvCPU > 0 {
			add(smp.Peer, cpu, float64(r.Msgs)/r.SrvCPU)
		}
		add(smp.Peer, p50, float64(r.P50us))
		add(smp.Peer, p99, float64(r.P99us))
		add(smp.Peer, srv, 100*r.SrvCPU/r.WindowSec)
	}
	return s
}

// median returns the median of peer's metric over the rounds.
func (s *summary) median(peer, m string) (float64, bool) {
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
		if !ok || (lowest && v <= 0) || (m == mCostUs && s.overloaded(p.name)) {
			continue
		}
		if name == "" || (lowest && v < bv) || (!lowest && v > bv) {
			name, bv = p.name, v
		}
	}
	return name, bv, name != ""
}

// maxDropPct is the share of dropped slots in the cost workload above which
// a server did not keep up with the offered rate: its µs/msg was measured at
// a lower load, so it is flagged and never the best Go peer.
const maxDropPct = 5

func (s *summary) overloaded(peer string) bool {
	v, ok := s.median(peer, mCostDrop)
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

// markdown renders the result tables.
func (s *summary) markdown(d *driver) string {
	c := d.cfg
	var b strings.Builder
	hasC := false
	for _, p := range d.peers {
		if p.kind == "c" && p.reason == "" {
			hasC = true
		}
	}
	ratio := "×best Go"
	if hasC {
		ratio += ", ×C"
	}
	fmt.Fprintf(&b, "## Echo servers, one loop on one CPU (median of %d round(s))\n\n", c.rounds)
	fmt.Fprintf(&b, "%d connections, closed loop; cost: %.0f msgs/s of 64 B offered in total; memory: %d connections. "+
		"In brackets: %s (ratios of medians; for msgs per CPU-second higher is better, for µs and bytes lower is better).\n\n",
		c.conns, c.costRate, c.idleConns, ratio)
	fmt.Fprintf(&b, "| server | echo 64 B msgs/s | 64 B msgs per server CPU-s | echo 1 KiB msgs/s | 1 KiB msgs per server CPU-s | cost: server CPU µs/msg | idle B/conn | B/conn after one echo |\n")
	fmt.Fprintf(&b, "|---|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, p := range d.peers {
		if p.reason != "" {
			fmt.Fprintf(&b, "| %s | %s: not available | | | | | | |\n", p.name, p.name)
			continue
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", p.name,
			s.plain(p.name, mEcho64Rate, "%.0f"), s.cell(d, p.name, mEcho64CPU, false, "%.0f"),
			s.plain(p.name, mEcho1kRate, "%.0f"), s.cell(d, p.name, mEcho1kCPU, false, "%.0f"),
			s.cell(d, p.name, mCostUs, true, "%.2f")+dagger(s.overloaded(p.name)),
			s.cell(d, p.name, mMemIdle, true, "%.0f"), s.cell(d, p.name, mMemMsg, true, "%.0f"))
	}
	var bests []string
	for _, x := range []struct {
		label, m string
		lowest   bool
	}{{"64 B", mEcho64CPU, false}, {"1 KiB", mEcho1kCPU, false}, {"cost", mCostUs, true}, {"idle", mMemIdle, true}, {"after echo", mMemMsg, true}} {
		if name, _, ok := s.best(d, x.m, x.lowest); ok {
			bests = append(bests, x.label+" "+name)
		}
	}
	if len(bests) > 0 {
		fmt.Fprintf(&b, "\nBest Go peer: %s.\n", strings.Join(bests, ", "))
	}

	fmt.Fprintf(&b, "\n### Latency and load\n\n")
	fmt.Fprintf(&b, "| server | 64 B p50 / p99 µs | 1 KiB p50 / p99 µs | cost p50 / p99 µs | cost msgs/s achieved | cost slots dropped %% | server CPU %% (64 B, 1 KiB, cost) |\n")
	fmt.Fprintf(&b, "|---|--:|--:|--:|--:|--:|--:|\n")
	for _, p := range d.peers {
		if p.reason != "" {
			continue
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s, %s, %s |\n", p.name,
			s.pair(p.name, mEcho64P50, mEcho64P99), s.pair(p.name, mEcho1kP50, mEcho1kP99), s.pair(p.name, mCostP50, mCostP99),
			s.plain(p.name, mCostRate, "%.0f"), s.plain(p.name, mCostDrop, "%.1f"),
			s.plain(p.name, mEcho64Srv, "%.0f"), s.plain(p.name, mEcho1kSrv, "%.0f"), s.plain(p.name, mCostSrv, "%.0f"))
	}

	var notes []string
	for _, p := range d.peers {
		if s.overloaded(p.name) {
			notes = append(notes, fmt.Sprintf("- † %s dropped %s%% of the cost workload's slots (over %d%%): it did not keep up with %.0f msgs/s, so its µs/msg is at a lower load and not comparable",
				p.name, s.plain(p.name, mCostDrop, "%.1f"), maxDropPct, c.costRate))
		}
	}
	for _, p := range d.peers {
		if p.reason != "" {
			notes = append(notes, fmt.Sprintf("- %s: not available: %s", p.name, p.reason))
		}
		for _, e := range s.errs[p.name] {
			notes = append(notes, fmt.Sprintf("- %s %s", p.name, e))
		}
	}
	if len(notes) > 0 {
		fmt.Fprintf(&b, "\nNotes:\n%s\n", strings.Join(notes, "\n"))
	}
	return b.String()
}

// chart draws one bar chart per headline metric into a PNG file.
func (s *summary) chart(d *driver, path string) error {
	panels := []struct{ title, ylabel, m string }{
		{"echo 64 B, 100 conns", "msgs per server CPU-second", mEcho64CPU},
		{"echo 1 KiB, 100 conns", "msgs per server CPU-second", mEcho1kCPU},
		{fmt.Sprintf("cost at %.0f msgs/s", d.cfg.costRate), "server CPU µs per message", mCostUs},
		{fmt.Sprintf("memory, %d connections", d.cfg.idleConns), "RSS bytes per idle connection", mMemIdle},
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
