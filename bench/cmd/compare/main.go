// Command compare builds the servers of the benchmark module and the load
// generator, measures each server in turn on loopback and prints markdown
// tables of medians, also written with a PNG bar chart and the raw data to
// results/<stamp>/.
//
// Run it from the bench directory:
//
//	go run ./cmd/compare                      # echo workloads, 3 rounds
//	go run ./cmd/compare -workloads http      # HTTP workloads (needs wrk)
//	go run ./cmd/compare -workloads echo,http # both
//	go run ./cmd/compare -quick ...           # 1 round, short runs
//
// Each round visits every server (starting one server later each round, so
// none always runs first). A server runs pinned to one CPU with taskset and
// GOMAXPROCS=1, the load generator pinned to another. Per server and round,
// for echo: a fresh server for the echo workloads (64 B and 1 KiB closed
// loop, then 64 B at a fixed rate, the "cost" workload), and another fresh
// one for the memory workload (RSS per idle connection). For HTTP: a fresh
// server that must pass the correctness gate (internal/httpcheck), then wrk
// (not pipelined, after a warm-up), wrk pipelined and the fixed-rate cost
// workload; and another fresh one for the memory workload (RSS per
// keep-alive connection after one request). Only 127.0.0.1 is targeted,
// every load run is bounded in time, and only processes started here are
// ever signalled.
//
// eddy takes part through its command line, built from ../cmd/eddy: "eddy
// echo -addr ADDR" and "eddy serve -addr ADDR -quiet"; when that does not
// build or lacks the command its row says "eddy: not available". The
// hand-written C epoll server of the shared harness is built as the
// reference when its source is present.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/eddyloop/eddy/bench/internal/httpcheck"
	"github.com/eddyloop/eddy/bench/internal/procstat"
)

// config holds the knobs of a run.
type config struct {
	rounds        int
	workloads     map[string]bool // the workloads to run
	peers         []string
	conns         int
	warmup        time.Duration
	echoDur       time.Duration
	echo1kDur     time.Duration
	costRate      float64
	costDur       time.Duration
	wrkWarmup     time.Duration
	wrkDur        time.Duration
	pipeDur       time.Duration
	depth         int
	idleConns     int
	settle        time.Duration
	srvCPU        string
	loadCPU       string
	nice          int
	basePort      int
	cref          string
	out           string
	skipBuild     bool
	progressEvery time.Duration
}

// peer is one server under test.
type peer struct {
	name string
	kind string // "eddy", "go" or "c"
	bin  string // file in bin/
	// args holds, per protocol ("echo", "http"), the server's arguments,
	// "{addr}" standing for the address; a protocol the server does not
	// speak has none.
	args map[string][]string
	// reason holds, per protocol, why the server is not available; none
	// if it is.
	reason map[string]string
}

// speaks reports whether the server has a mode for proto.
func (p *peer) speaks(proto string) bool { return p.args[proto] != nil }

// available reports whether the server can be measured with proto.
func (p *peer) available(proto string) bool { return p.speaks(proto) && p.reason[proto] == "" }

// unavailable marks every protocol of the server as not available.
func (p *peer) unavailable(why string) {
	for proto := range p.args {
		p.reason[proto] = why
	}
}

// argv returns the command line of the server for proto on addr.
func (d *driver) argv(p *peer, proto, addr string) []string {
	argv := []string{d.bin(p.bin)}
	for _, a := range p.args[proto] {
		argv = append(argv, strings.ReplaceAll(a, "{addr}", addr))
	}
	return argv
}

// Protocols.
const (
	pEcho = "echo"
	pHTTP = "http"
)

// Workload names, also the keys of the raw results.
const (
	wEcho64 = "echo64"
	wEcho1k = "echo1k"
	wCost   = "cost"
	wMem    = "mem"
	wCheck  = "http-check" // the HTTP correctness gate, recorded like a workload
	wWrk    = "wrk"
	wPipe   = "pipeline"
	wHCost  = "http-cost"
	wHMem   = "http-mem"
)

// workloads lists every workload in the order a round runs them.
var workloads = []string{wEcho64, wEcho1k, wCost, wMem, wWrk, wPipe, wHCost, wHMem}

// workloadGroups are the names -workloads accepts besides single workloads.
var workloadGroups = map[string][]string{
	"echo": {wEcho64, wEcho1k, wCost, wMem},
	"http": {wWrk, wPipe, wHCost, wHMem},
	"all":  workloads,
}

// protoOf returns the protocol of workload w.
func protoOf(w string) string {
	switch w {
	case wEcho64, wEcho1k, wCost, wMem:
		return pEcho
	}
	return pHTTP
}

// parseWorkloads expands a -workloads list.
func parseWorkloads(list string) (map[string]bool, error) {
	set := map[string]bool{}
	for name := range strings.SplitSeq(list, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if g, ok := workloadGroups[name]; ok {
			for _, w := range g {
				set[w] = true
			}
		} else if slices.Contains(workloads, name) {
			set[name] = true
		} else {
			return nil, fmt.Errorf("unknown workload %q (groups: echo http all; workloads: %s)", name, strings.Join(workloads, " "))
		}
	}
	if len(set) == 0 {
		return nil, errors.New("-workloads is empty")
	}
	return set, nil
}

// runs reports whether workload w is part of the run.
func (d *driver) runs(w string) bool { return d.cfg.workloads[w] }

// runsProto reports whether any workload of proto is part of the run.
func (d *driver) runsProto(proto string) bool {
	for _, w := range workloads {
		if d.runs(w) && protoOf(w) == proto {
			return true
		}
	}
	return false
}

// selected returns the workloads of ws that are part of the run.
func (d *driver) selected(ws ...string) []string {
	var out []string
	for _, w := range ws {
		if d.runs(w) {
			out = append(out, w)
		}
	}
	return out
}

// sample is one measured workload of one server in one round.
type sample struct {
	Round    int                `json:"round"`
	Peer     string             `json:"peer"`
	Workload string             `json:"workload"`
	Result   *procstat.Result   `json:"result,omitempty"`
	Check    []httpcheck.Result `json:"check,omitempty"` // the gate's checks (workload http-check)
	Error    string             `json:"error,omitempty"`
}

// driver runs one comparison: it owns the configuration, the peers, the
// processes it started and the samples measured so far.
type driver struct {
	cfg     config
	dir     string // the bench module directory
	out     string // results folder
	peers   []*peer
	procs   *procs
	port    int
	samples []sample
	log     io.Writer // run.log and stderr
	prog    *progress
	// gateFailed holds, per peer, its first failure of the HTTP gate; such
	// a peer's HTTP workloads are not measured in later rounds.
	gateFailed map[string]string
}

func main() {
	var cfg config
	quick := flag.Bool("quick", false, "1 round, 2 s runs, 2,000 idle connections")
	flag.IntVar(&cfg.rounds, "rounds", 3, "rounds; each visits every server")
	wl := flag.String("workloads", "echo", "workloads, comma-separated: the groups echo, http, all, or single ones: "+strings.Join(workloads, " "))
	peers := flag.String("peers", strings.Join(allPeers, ","), "servers to measure, comma-separated (nethttp is another name for stdlib)")
	flag.IntVar(&cfg.conns, "c", 100, "connections for echo, wrk and the cost workloads")
	flag.DurationVar(&cfg.warmup, "warmup", time.Second, "warm-up before each measuring window")
	flag.DurationVar(&cfg.echoDur, "echo", 10*time.Second, "measuring window of the 64 B echo")
	flag.DurationVar(&cfg.echo1kDur, "echo1k", 5*time.Second, "measuring window of the 1 KiB echo")
	flag.Float64Var(&cfg.costRate, "cost-rate", 30000, "offered msgs/s (HTTP: req/s) in total for the cost workloads")
	flag.DurationVar(&cfg.costDur, "cost", 5*time.Second, "measuring window of the cost workloads (echo and HTTP)")
	flag.DurationVar(&cfg.wrkWarmup, "wrk-warmup", 2*time.Second, "HTTP: wrk warm-up before the first wrk window (whole seconds)")
	flag.DurationVar(&cfg.wrkDur, "wrk", 10*time.Second, "HTTP: window of wrk, not pipelined (whole seconds)")
	flag.DurationVar(&cfg.pipeDur, "pipeline", 10*time.Second, "HTTP: window of wrk pipelined (whole seconds)")
	flag.IntVar(&cfg.depth, "depth", 16, "HTTP: requests per write in the pipelined workload")
	flag.IntVar(&cfg.idleConns, "idle", 10000, "connections for the memory workloads (0: skip them)")
	flag.DurationVar(&cfg.settle, "settle", 2*time.Second, "memory workloads: minimum wait before each RSS reading")
	flag.StringVar(&cfg.srvCPU, "srv-cpu", "0", "CPU list (taskset -c) for the server")
	flag.StringVar(&cfg.loadCPU, "load-cpu", "1", "CPU list (taskset -c) for the load generator")
	flag.IntVar(&cfg.nice, "nice", -20, "nice value for server and load (0: leave alone; needs privilege)")
	flag.IntVar(&cfg.basePort, "port", 24000, "servers listen on 127.0.0.1 ports above this")
	flag.StringVar(&cfg.cref, "cref", "/work/shared/bench/cref/epollsrv.c", "C epoll reference source (skipped if missing)")
	flag.StringVar(&cfg.out, "out", "", "results folder (default results/<stamp>)")
	flag.BoolVar(&cfg.skipBuild, "skip-build", false, "use bin/ as it is")
	flag.DurationVar(&cfg.progressEvery, "progress", time.Second, "progress line refresh interval on a terminal")
	flag.Parse()
	if *quick {
		set := map[string]bool{}
		flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
		defaults := map[string]func(){
			"rounds":     func() { cfg.rounds = 1 },
			"warmup":     func() { cfg.warmup = 500 * time.Millisecond },
			"echo":       func() { cfg.echoDur = 2 * time.Second },
			"echo1k":     func() { cfg.echo1kDur = 2 * time.Second },
			"cost":       func() { cfg.costDur = 2 * time.Second },
			"wrk-warmup": func() { cfg.wrkWarmup = time.Second },
			"wrk":        func() { cfg.wrkDur = 2 * time.Second },
			"pipeline":   func() { cfg.pipeDur = 2 * time.Second },
			"idle":       func() { cfg.idleConns = 2000 },
			"settle":     func() { cfg.settle = time.Second },
		}
		for name, f := range defaults {
			if !set[name] {
				f()
			}
		}
	}
	for p := range strings.SplitSeq(*peers, ",") {
		if p = strings.TrimSpace(p); p == "nethttp" {
			p = "stdlib"
		}
		if p != "" && !slices.Contains(cfg.peers, p) {
			cfg.peers = append(cfg.peers, p)
		}
	}
	var err error
	if cfg.workloads, err = parseWorkloads(*wl); err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(2)
	}
	if cfg.idleConns <= 0 {
		delete(cfg.workloads, wMem)
		delete(cfg.workloads, wHMem)
	}
	if cfg.rounds < 1 || len(cfg.peers) == 0 || cfg.conns < 1 || cfg.depth < 1 {
		fmt.Fprintln(os.Stderr, "compare: -rounds, -peers, -c and -depth must not be empty or zero")
		os.Exit(2)
	}
	// wrk takes whole seconds.
	for _, dur := range []*time.Duration{&cfg.wrkWarmup, &cfg.wrkDur, &cfg.pipeDur} {
		*dur = max(time.Second, dur.Round(time.Second))
	}
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(1)
	}
}

func run(cfg config) error {
	dir, err := benchDir()
	if err != nil {
		return err
	}
	if cfg.out == "" {
		cfg.out = filepath.Join("results", time.Now().UTC().Format("20060102-150405"))
	}
	d := &driver{cfg: cfg, dir: dir, out: outDir(dir, cfg.out), procs: newProcs(), port: cfg.basePort,
		gateFailed: map[string]string{}}
	if err := os.MkdirAll(filepath.Join(d.out, "logs"), 0o755); err != nil {
		return err
	}
	runLog, err := os.Create(filepath.Join(d.out, "run.log"))
	if err != nil {
		return err
	}
	defer runLog.Close()
	d.prog = newProgress(os.Stderr, cfg.progressEvery)
	d.log = io.MultiWriter(runLog, d.prog)
	defer d.prog.stop()

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-sig
		d.prog.stop()
		d.procs.killAll()
		fmt.Fprintf(os.Stderr, "compare: %v: stopped every process started here\n", s)
		os.Exit(130)
	}()
	defer d.procs.killAll()

	for _, tool := range []string{"taskset", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s is not installed", tool)
		}
	}
	d.logf("results in %s", d.out)
	if d.runs(wWrk) || d.runs(wPipe) {
		if err := d.ensureWrk(); err != nil {
			return err
		}
	}
	if err := d.setup(); err != nil {
		return err
	}
	d.writeVersions()
	d.measureAll()
	d.prog.stop()

	raw, _ := json.MarshalIndent(d.samples, "", "  ")
	if err := os.WriteFile(filepath.Join(d.out, "raw.json"), raw, 0o644); err != nil {
		return err
	}
	sum := d.summarize()
	table := sum.markdown(d)
	if err := os.WriteFile(filepath.Join(d.out, "table.md"), []byte(table), 0o644); err != nil {
		return err
	}
	if err := sum.chart(d, filepath.Join(d.out, "chart.png")); err != nil {
		d.logf("chart: %v", err)
	}
	fmt.Print(table)
	fmt.Printf("\nwritten: %s/{table.md,chart.png,raw.json,run.log,versions.txt,logs/}\n", cfg.out)
	return nil
}

// benchDir returns the directory of the bench module: the working directory
// or its bench subdirectory.
func benchDir() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for _, dir := range []string{wd, filepath.Join(wd, "bench")} {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(b, []byte("module github.com/eddyloop/eddy/bench\n")) {
			return dir, nil
		}
	}
	return "", errors.New("run me from the bench directory (cd bench && go run ./cmd/compare)")
}

func (d *driver) bin(name string) string { return filepath.Join(d.dir, "bin", name) }

func (d *driver) logf(format string, a ...any) {
	fmt.Fprintf(d.log, "[%s] %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, a...))
}

// outDir is where the results go: out as given when absolute, else under
// the module's directory dir.
func outDir(dir, out string) string {
	if filepath.IsAbs(out) {
		return out
	}
	return filepath.Join(dir, out)
}

// allPeers lists every server the driver knows, in the default order.
var allPeers = []string{"eddy", "eddy-adapter", "gnet", "nbio", "netpoll", "evio", "stdlib", "fasthttp", "hertz", "cepoll"}

// knownPeers returns the servers the driver knows, by name.
func knownPeers() map[string]*peer {
	goPeer := func(name string, protos ...string) *peer {
		p := &peer{name: name, kind: "go", bin: name, args: map[string][]string{}, reason: map[string]string{}}
		for _, proto := range protos {
			p.args[proto] = []string{"-addr", "{addr}", "-mode", proto}
		}
		return p
	}
	ps := map[string]*peer{
		// One loop, as every peer gets one core (GOMAXPROCS=1): said
		// outright, since eddy's servers default to one loop per processor.
		"eddy": {name: "eddy", kind: "eddy", bin: "eddy", reason: map[string]string{}, args: map[string][]string{
			pEcho: {"echo", "-addr", "{addr}", "-loops", "1"},
			pHTTP: {"serve", "-addr", "{addr}", "-loops", "1", "-quiet"},
		}},
		// eddy's server with a standard http.Handler (evhttp.Adapt).
		"eddy-adapter": {name: "eddy-adapter", kind: "eddy", bin: "eddy", reason: map[string]string{}, args: map[string][]string{
			pHTTP: {"serve", "-addr", "{addr}", "-loops", "1", "-quiet", "-adapter"},
		}},
		"gnet":     goPeer("gnet", pEcho, pHTTP),
		"nbio":     goPeer("nbio", pEcho, pHTTP),
		"netpoll":  goPeer("netpoll", pEcho, pHTTP),
		"evio":     goPeer("evio", pEcho, pHTTP),
		"stdlib":   goPeer("stdlib", pEcho, pHTTP),
		"fasthttp": goPeer("fasthttp", pHTTP),
		"hertz":    goPeer("hertz", pHTTP),
		"cepoll":   goPeer("cepoll", pEcho, pHTTP),
	}
	ps["cepoll"].kind = "c"
	return ps
}

// eddyCommands maps each protocol to the eddy subcommand that serves it.
var eddyCommands = map[string]string{pEcho: "echo", pHTTP: "serve"}

// setup builds the load generator and the servers and decides which peers
// can run.
func (d *driver) setup() error {
	known := knownPeers()
	for _, name := range d.cfg.peers {
		p, ok := known[name]
		if !ok {
			return fmt.Errorf("unknown peer %q (known: %s; nethttp is stdlib)", name, strings.Join(allPeers, " "))
		}
		if !(d.runsProto(pEcho) && p.speaks(pEcho)) && !(d.runsProto(pHTTP) && p.speaks(pHTTP)) {
			d.logf("%s: skipped: it speaks none of the protocols of the workloads run", p.name)
			continue
		}
		d.peers = append(d.peers, p)
	}
	if len(d.peers) == 0 {
		return errors.New("no server of -peers speaks the protocol of -workloads")
	}
	build := func(name string, args ...string) error {
		d.logf("build: %s %s", name, strings.Join(args, " "))
		cmd := exec.Command(name, args...)
		cmd.Dir = d.dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			return fmt.Errorf("%v: %s", err, strings.Join(lines[:min(len(lines), 3)], "; "))
		}
		return nil
	}
	if !d.cfg.skipBuild {
		// The load generator and the Go servers in one go build; if that
		// fails, each server alone, so that only the broken ones drop out.
		pkgs := []string{"./load"}
		for _, p := range d.peers {
			if p.kind == "go" {
				pkgs = append(pkgs, "./servers/"+p.bin)
			}
		}
		if err := build("go", append([]string{"build", "-o", "bin/"}, pkgs...)...); err != nil {
			if err := build("go", "build", "-o", "bin/", "./load"); err != nil {
				return fmt.Errorf("load generator: %w", err)
			}
			for _, p := range d.peers {
				if p.kind != "go" {
					continue
				}
				if err := build("go", "build", "-o", "bin/", "./servers/"+p.bin); err != nil {
					p.unavailable("does not build: " + err.Error())
				}
			}
		}
	}
	eddyBuilt := false
	for _, p := range d.peers {
		switch p.kind {
		case "eddy":
			if !d.cfg.skipBuild && !eddyBuilt {
				eddyBuilt = true
				// Through this module's go.mod (its tool directive); if a
				// new dependency of eddy is not in go.sum yet, build it
				// in its own module instead.
				if err := build("go", "build", "-o", "bin/eddy", "../cmd/eddy"); err != nil {
					if err2 := build("go", "-C", "..", "build", "-o", d.bin("eddy"), "./cmd/eddy"); err2 != nil {
						p.unavailable("does not build: " + err.Error())
						break
					}
				}
			}
			// The commands are the contract; "eddy echo -h" and "eddy
			// serve -h" exit 0 once they exist.
			for proto, sub := range eddyCommands {
				cmd := exec.Command(d.bin("eddy"), sub, "-h")
				if out, err := cmd.CombinedOutput(); err != nil {
					line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
					p.reason[proto] = fmt.Sprintf("no %s command (%s)", sub, line)
				}
			}
		case "c":
			if _, err := os.Stat(d.cfg.cref); err != nil {
				p.unavailable("no C reference source at " + d.cfg.cref)
				break
			}
			if !d.cfg.skipBuild {
				if err := build("gcc", "-O2", "-Wall", "-o", "bin/cepoll", d.cfg.cref); err != nil {
					p.unavailable("does not build: " + err.Error())
				}
			}
		}
		for _, proto := range []string{pEcho, pHTTP} {
			if why := p.reason[proto]; why != "" && d.runsProto(proto) {
				d.logf("%s: not available for %s: %s", p.name, proto, why)
			}
		}
	}
	if d.runs(wPipe) {
		if err := os.WriteFile(d.pipelineScript(), pipelineLua, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func (d *driver) writeVersions() {
	var b strings.Builder
	fmt.Fprintf(&b, "date: %s\n", time.Now().UTC().Format(time.RFC3339))
	if u, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		fmt.Fprintf(&b, "kernel: %s", u)
	}
	if ci, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(ci), "\n") {
			if strings.HasPrefix(line, "model name") {
				_, m, _ := strings.Cut(line, ":")
				fmt.Fprintf(&b, "cpu: %s, %d CPUs\n", strings.TrimSpace(m), runtime.NumCPU())
				break
			}
		}
	}
	if out, err := exec.Command("go", "version").Output(); err == nil {
		b.Write(out)
	}
	cmd := exec.Command("go", "list", "-m", "github.com/panjf2000/gnet/v2", "github.com/lesismal/nbio",
		"github.com/cloudwego/netpoll", "github.com/tidwall/evio", "github.com/valyala/fasthttp", "github.com/cloudwego/hertz")
	cmd.Dir = d.dir
	if out, err := cmd.Output(); err == nil {
		b.Write(out)
	}
	if out, err := exec.Command("gcc", "-dumpfullversion").Output(); err == nil {
		fmt.Fprintf(&b, "gcc %s", out)
	}
	if d.runsProto(pHTTP) {
		// "wrk -v" prints its version and exits 1.
		out, _ := exec.Command("wrk", "-v").CombinedOutput()
		line, _, _ := strings.Cut(string(out), "\n")
		fmt.Fprintf(&b, "%s\n", strings.TrimSpace(line))
	}
	c := d.cfg
	var ws []string
	for _, w := range workloads {
		if d.runs(w) {
			ws = append(ws, w)
		}
	}
	fmt.Fprintf(&b, "settings: workloads=%s rounds=%d conns=%d warmup=%v echo=%v echo1k=%v cost=%v@%.0f/s wrk-warmup=%v wrk=%v pipeline=%v depth=%d idle=%d settle=%v srv-cpu=%s load-cpu=%s nice=%d\n",
		strings.Join(ws, ","), c.rounds, c.conns, c.warmup, c.echoDur, c.echo1kDur, c.costDur, c.costRate,
		c.wrkWarmup, c.wrkDur, c.pipeDur, c.depth, c.idleConns, c.settle, c.srvCPU, c.loadCPU, c.nice)
	if la, err := os.ReadFile("/proc/loadavg"); err == nil {
		fmt.Fprintf(&b, "load average at start: %s", la)
	}
	os.WriteFile(filepath.Join(d.out, "versions.txt"), []byte(b.String()), 0o644)
}

// stepCost estimates how long one workload takes, for the progress line.
func (d *driver) stepCost(w string) time.Duration {
	c := d.cfg
	switch w {
	case wEcho64:
		return c.warmup + c.echoDur + 300*time.Millisecond
	case wEcho1k:
		return c.warmup + c.echo1kDur
	case wCost, wHCost:
		return c.warmup + c.costDur
	case wMem, wHMem:
		return 6*c.settle + time.Duration(c.idleConns)*200*time.Microsecond + 2*time.Second
	case wCheck:
		return 800 * time.Millisecond
	case wWrk:
		return c.wrkWarmup + c.wrkDur + 200*time.Millisecond
	case wPipe:
		return c.pipeDur + 100*time.Millisecond
	}
	return 0
}

// plan returns the workloads a round runs for p, with the HTTP gate before
// the first HTTP workload.
func (d *driver) plan(p *peer) []string {
	var ws []string
	for _, w := range workloads {
		if !d.runs(w) || !p.available(protoOf(w)) {
			continue
		}
		if protoOf(w) == pHTTP && !slices.Contains(ws, wCheck) {
			ws = append(ws, wCheck)
		}
		ws = append(ws, w)
	}
	return ws
}

// measureAll runs every round.
func (d *driver) measureAll() {
	var total time.Duration
	for _, p := range d.peers {
		for _, w := range d.plan(p) {
			total += d.stepCost(w)
		}
	}
	total *= time.Duration(d.cfg.rounds)
	d.prog.begin(total)
	start := time.Now()
	n := len(d.peers)
	for r := 1; r <= d.cfg.rounds; r++ {
		for k := range n {
			p := d.peers[(k+r-1)%n]
			plan := d.plan(p)
			if len(plan) == 0 {
				continue
			}
			d.logf("round %d/%d: %s", r, d.cfg.rounds, p.name)
			if ws := d.selected(wEcho64, wEcho1k, wCost); len(ws) > 0 && p.available(pEcho) {
				d.echoPhase(r, p, ws)
			}
			if d.runs(wMem) && p.available(pEcho) {
				d.memPhase(r, p)
			}
			if p.available(pHTTP) && d.runsProto(pHTTP) {
				if why, failed := d.gateFailed[p.name]; failed {
					d.logf("%s: HTTP not measured: it failed the HTTP check (%s)", p.name, why)
					for _, w := range plan {
						if protoOf(w) == pHTTP {
							d.prog.done(d.stepCost(w))
						}
					}
					continue
				}
				if d.httpPhase(r, p) && d.runs(wHMem) {
					d.httpMemPhase(r, p)
				}
			}
		}
	}
	d.logf("measured in %s", time.Since(start).Round(time.Second))
}

func (d *driver) record(s sample) { d.samples = append(d.samples, s) }

func (d *driver) fail(round int, p *peer, ws []string, err error) {
	d.logf("%s: %v", p.name, err)
	for _, w := range ws {
		d.record(sample{Round: round, Peer: p.name, Workload: w, Error: err.Error()})
		d.prog.done(d.stepCost(w))
	}
}

// start starts a fresh server p for proto; what names its log.
func (d *driver) start(round int, p *peer, proto, what string) (*server, error) {
	addr, err := d.nextAddr()
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(d.out, "logs", fmt.Sprintf("%s-%s-r%d.server.log", p.name, what, round))
	return d.startServer(d.argv(p, proto, addr), addr, logPath)
}

// exited reports whether server s has exited, and if so records the
// workloads ws as failed.
func (d *driver) exited(round int, p *peer, s *server, during string, ws []string) bool {
	select {
	case <-s.done:
		d.fail(round, p, ws, fmt.Errorf("server exited during %s (%v)", during, s.cmd.ProcessState))
		return true
	default:
		return false
	}
}

// echoPhase runs the echo and cost workloads against one fresh server.
func (d *driver) echoPhase(round int, p *peer, ws []string) {
	s, err := d.start(round, p, pEcho, "echo")
	if err != nil {
		d.fail(round, p, ws, fmt.Errorf("server: %w", err))
		return
	}
	defer d.stopServer(s)
	c := d.cfg
	for i, w := range ws {
		d.prog.status(fmt.Sprintf("round %d/%d %s %s", round, c.rounds, p.name, w))
		args := []string{"-addr", s.addr, "-pid", fmt.Sprint(s.pid), "-c", fmt.Sprint(c.conns), "-warmup", c.warmup.String()}
		var win time.Duration
		switch w {
		case wEcho64:
			win = c.echoDur
			args = append(args, "-size", "64", "-d", win.String())
		case wEcho1k:
			win = c.echo1kDur
			args = append(args, "-size", "1024", "-d", win.String())
		case wCost:
			win = c.costDur
			args = append(args, "-size", "64", "-rate", fmt.Sprint(c.costRate), "-d", win.String())
		}
		d.measure(round, p, w, c.warmup+win+30*time.Second, args)
		if d.exited(round, p, s, w, ws[i+1:]) {
			return
		}
	}
}

// memPhase runs the memory workload against one fresh server.
func (d *driver) memPhase(round int, p *peer) {
	s, err := d.start(round, p, pEcho, "mem")
	if err != nil {
		d.fail(round, p, []string{wMem}, fmt.Errorf("server: %w", err))
		return
	}
	defer d.stopServer(s)
	c := d.cfg
	d.prog.status(fmt.Sprintf("round %d/%d %s mem (%d idle conns)", round, c.rounds, p.name, c.idleConns))
	args := []string{"-mode", "idle", "-addr", s.addr, "-pid", fmt.Sprint(s.pid), "-c", fmt.Sprint(c.idleConns),
		"-size", "64", "-settle", c.settle.String(), "-timeout", "30s"}
	d.measure(round, p, wMem, 4*time.Minute, args)
}

// measure runs one load and records its result.
func (d *driver) measure(round int, p *peer, w string, limit time.Duration, args []string) {
	logPath := filepath.Join(d.out, "logs", fmt.Sprintf("%s-%s-r%d.load.log", p.name, w, round))
	out, err := d.runLoad(limit, logPath, args...)
	d.prog.done(d.stepCost(w))
	res, perr := procstat.ParseResult(out)
	if err == nil && perr != nil {
		err = perr
	}
	d.recordResult(round, p, w, res, err, logPath)
}

// recordResult records the result or failure of one measurement; the first
// error line of logPath, if any, is added to the error.
func (d *driver) recordResult(round int, p *peer, w string, res *procstat.Result, err error, logPath string) {
	s := sample{Round: round, Peer: p.name, Workload: w, Result: res}
	if err != nil {
		s.Error = err.Error()
		if tail := lastLine(logPath); tail != "" {
			s.Error += ": " + tail
		}
		d.logf("%s %s: failed: %s", p.name, w, s.Error)
	}
	if res != nil {
		d.logf("%s %s: %s", p.name, w, describe(res))
	}
	d.record(s)
}

// describe is a one-line summary of a result for the log.
func describe(r *procstat.Result) string {
	if r.Mode == "idle" {
		what := "echo"
		if r.Proto == pHTTP {
			what = "request"
		}
		return fmt.Sprintf("%d B/conn idle, %d B/conn after one %s (%d conns)", r.IdlePerConn, r.MsgPerConn, what, r.Conns)
	}
	unit := "msgs"
	if r.Proto == pHTTP {
		unit = "req"
	}
	s := fmt.Sprintf("%.0f %s/s, p50 %d µs, p99 %d µs, server CPU %.0f%%", r.MsgsPerS, unit, r.P50us, r.P99us, 100*r.SrvCPU/r.WindowSec)
	if r.SrvCPU > 0 {
		s += fmt.Sprintf(", %.0f %s/server CPU-s, %.2f µs/%s", float64(r.Msgs)/r.SrvCPU, unit, r.SrvCPU/float64(r.Msgs)*1e6, strings.TrimSuffix(unit, "s"))
	}
	if r.Mode == "wrk" {
		s += fmt.Sprintf(", wrk CPU %.0f%%, %d errors", 100*r.LoadCPU/r.WindowSec, r.Errors)
	}
	if r.Dropped > 0 {
		s += fmt.Sprintf(", %d slots dropped", r.Dropped)
	}
	return s
}

// lastLine returns the first error line of a load log ("load: ..." or
// "panic: ..."), or else its last line that is not the command or a result.
func lastLine(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	for _, l := range lines {
		if strings.HasPrefix(l, "load: ") || strings.HasPrefix(l, "panic: ") {
			return l
		}
	}
	for i := len(lines) - 1; i >= 0; i-- {
		if !strings.HasPrefix(lines[i], procstat.ResultPrefix) && !strings.HasPrefix(lines[i], "$ load") {
			return lines[i]
		}
	}
	return ""
}
