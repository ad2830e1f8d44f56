// Command compare builds every echo server of the benchmark module and the
// load generator, measures each server in turn on loopback and prints a
// markdown table of medians, also written with a PNG bar chart and the raw
// data to results/<stamp>/.
//
// Run it from the bench directory:
//
//	go run ./cmd/compare          # 3 rounds, about 15 minutes
//	go run ./cmd/compare -quick   # 1 round, short runs, about 2-3 minutes
//
// Each round visits every server (starting one server later each round, so
// none always runs first). A server runs pinned to one CPU with taskset and
// GOMAXPROCS=1, the load generator pinned to another. Per server and round:
// a fresh server for the echo workloads (64 B and 1 KiB closed loop, then
// 64 B at a fixed rate, the "cost" workload), and another fresh one for the
// memory workload (RSS per idle connection). Only 127.0.0.1 is targeted,
// every load run is bounded in time, and only processes started here are
// ever signalled.
//
// eddy takes part through its command line, "eddy echo -addr ADDR", built
// from ../cmd/eddy; when that does not build or has no echo command its row
// says "eddy: not available". The hand-written C epoll server of the shared
// harness is built as the reference when its source is present.
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
	"strings"
	"syscall"
	"time"

	"github.com/eddyloop/eddy/bench/internal/procstat"
)

// config holds the knobs of a run.
type config struct {
	rounds        int
	peers         []string
	conns         int
	warmup        time.Duration
	echoDur       time.Duration
	echo1kDur     time.Duration
	costRate      float64
	costDur       time.Duration
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
	name   string
	kind   string // "eddy", "go" or "c"
	bin    string // file in bin/
	args   []string
	reason string // why it is not available; empty if it is
}

// Workload names, also the keys of the raw results.
const (
	wEcho64 = "echo64"
	wEcho1k = "echo1k"
	wCost   = "cost"
	wMem    = "mem"
)

var workloads = []string{wEcho64, wEcho1k, wCost, wMem}

// sample is one measured workload of one server in one round.
type sample struct {
	Round    int              `json:"round"`
	Peer     string           `json:"peer"`
	Workload string           `json:"workload"`
	Result   *procstat.Result `json:"result,omitempty"`
	Error    string           `json:"error,omitempty"`
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
}

func main() {
	var cfg config
	quick := flag.Bool("quick", false, "1 round, 2 s runs, 2,000 idle connections (about 2-3 minutes)")
	flag.IntVar(&cfg.rounds, "rounds", 3, "rounds; each visits every server")
	peers := flag.String("peers", "eddy,gnet,nbio,netpoll,evio,stdlib,cepoll", "servers to measure, comma-separated")
	flag.IntVar(&cfg.conns, "c", 100, "connections for the echo and cost workloads")
	flag.DurationVar(&cfg.warmup, "warmup", time.Second, "warm-up before each measuring window")
	flag.DurationVar(&cfg.echoDur, "echo", 10*time.Second, "measuring window of the 64 B echo")
	flag.DurationVar(&cfg.echo1kDur, "echo1k", 5*time.Second, "measuring window of the 1 KiB echo")
	flag.Float64Var(&cfg.costRate, "cost-rate", 30000, "offered msgs/s in total for the cost workload")
	flag.DurationVar(&cfg.costDur, "cost", 5*time.Second, "measuring window of the cost workload")
	flag.IntVar(&cfg.idleConns, "idle", 10000, "idle connections for the memory workload (0: skip it)")
	flag.DurationVar(&cfg.settle, "settle", 2*time.Second, "memory workload: wait before each RSS reading")
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
			"rounds": func() { cfg.rounds = 1 },
			"warmup": func() { cfg.warmup = 500 * time.Millisecond },
			"echo":   func() { cfg.echoDur = 2 * time.Second },
			"echo1k": func() { cfg.echo1kDur = 2 * time.Second },
			"cost":   func() { cfg.costDur = 2 * time.Second },
			"idle":   func() { cfg.idleConns = 2000 },
			"settle": func() { cfg.settle = time.Second },
		}
		for name, f := range defaults {
			if !set[name] {
				f()
			}
		}
	}
	for p := range strings.SplitSeq(*peers, ",") {
		if p = strings.TrimSpace(p); p != "" {
			cfg.peers = append(cfg.peers, p)
		}
	}
	if cfg.rounds < 1 || len(cfg.peers) == 0 || cfg.conns < 1 {
		fmt.Fprintln(os.Stderr, "compare: -rounds, -peers and -c must not be empty or zero")
		os.Exit(2)
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
	d := &driver{cfg: cfg, dir: dir, out: filepath.Join(dir, cfg.out), procs: newProcs(), port: cfg.basePort}
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

// setup builds the load generator and the servers and decides which peers
// can run.
func (d *driver) setup() error {
	known := map[string]*peer{
		"eddy":    {name: "eddy", kind: "eddy", bin: "eddy", args: []string{"echo"}},
		"gnet":    {name: "gnet", kind: "go", bin: "gnet"},
		"nbio":    {name: "nbio", kind: "go", bin: "nbio"},
		"netpoll": {name: "netpoll", kind: "go", bin: "netpoll"},
		"evio":    {name: "evio", kind: "go", bin: "evio"},
		"stdlib":  {name: "stdlib", kind: "go", bin: "stdlib"},
		"cepoll":  {name: "cepoll", kind: "c", bin: "cepoll", args: []string{"-mode", "echo"}},
	}
	for _, name := range d.cfg.peers {
		p, ok := known[name]
		if !ok {
			return fmt.Errorf("unknown peer %q (known: eddy gnet nbio netpoll evio stdlib cepoll)", name)
		}
		d.peers = append(d.peers, p)
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
		if err := build("go", "build", "-o", "bin/", "./load", "./servers/..."); err != nil {
			return err
		}
	}
	for _, p := range d.peers {
		switch p.kind {
		case "eddy":
			if !d.cfg.skipBuild {
				// Through this module's go.mod (its tool directive); if a
				// new dependency of eddy is not in go.sum yet, build it
				// in its own module instead.
				if err := build("go", "build", "-o", "bin/eddy", "../cmd/eddy"); err != nil {
					if err2 := build("go", "-C", "..", "build", "-o", d.bin("eddy"), "./cmd/eddy"); err2 != nil {
						p.reason = "does not build: " + err.Error()
						continue
					}
				}
			}
			// The echo command is the contract; "eddy echo -h" exits 0
			// once it exists.
			cmd := exec.Command(d.bin("eddy"), "echo", "-h")
			if out, err := cmd.CombinedOutput(); err != nil {
				line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
				p.reason = "no echo command (" + line + ")"
			}
		case "c":
			if _, err := os.Stat(d.cfg.cref); err != nil {
				p.reason = "no C reference source at " + d.cfg.cref
				continue
			}
			if !d.cfg.skipBuild {
				if err := build("gcc", "-O2", "-Wall", "-o", "bin/cepoll", d.cfg.cref); err != nil {
					p.reason = "does not build: " + err.Error()
				}
			}
		}
		if p.reason != "" {
			d.logf("%s: not available: %s", p.name, p.reason)
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
		"github.com/cloudwego/netpoll", "github.com/tidwall/evio")
	cmd.Dir = d.dir
	if out, err := cmd.Output(); err == nil {
		b.Write(out)
	}
	if out, err := exec.Command("gcc", "-dumpfullversion").Output(); err == nil {
		fmt.Fprintf(&b, "gcc %s", out)
	}
	c := d.cfg
	fmt.Fprintf(&b, "settings: rounds=%d conns=%d warmup=%v echo=%v echo1k=%v cost=%v@%.0f/s idle=%d settle=%v srv-cpu=%s load-cpu=%s nice=%d\n",
		c.rounds, c.conns, c.warmup, c.echoDur, c.echo1kDur, c.costDur, c.costRate, c.idleConns, c.settle, c.srvCPU, c.loadCPU, c.nice)
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
	case wCost:
		return c.warmup + c.costDur
	case wMem:
		return 6*c.settle + time.Duration(c.idleConns)*200*time.Microsecond + 2*time.Second
	}
	return 0
}

// measureAll runs every round.
func (d *driver) measureAll() {
	var ws []string
	for _, w := range workloads {
		if w != wMem || d.cfg.idleConns > 0 {
			ws = append(ws, w)
		}
	}
	var total time.Duration
	for _, p := range d.peers {
		if p.reason == "" {
			for _, w := range ws {
				total += d.stepCost(w)
			}
		}
	}
	total *= time.Duration(d.cfg.rounds)
	d.prog.begin(total)
	start := time.Now()
	n := len(d.peers)
	for r := 1; r <= d.cfg.rounds; r++ {
		for k := range n {
			p := d.peers[(k+r-1)%n]
			if p.reason != "" {
				continue
			}
			d.logf("round %d/%d: %s", r, d.cfg.rounds, p.name)
			d.echoPhase(r, p, ws)
			if d.cfg.idleConns > 0 {
				d.memPhase(r, p)
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

func (d *driver) start(round int, p *peer, what string) (*server, error) {
	addr, err := d.nextAddr()
	if err != nil {
		return nil, err
	}
	argv := append([]string{d.bin(p.bin)}, p.args...)
	argv = append(argv, "-addr", addr)
	logPath := filepath.Join(d.out, "logs", fmt.Sprintf("%s-%s-r%d.server.log", p.name, what, round))
	return d.startServer(argv, addr, logPath)
}

// echoPhase runs the echo and cost workloads against one fresh server.
func (d *driver) echoPhase(round int, p *peer, ws []string) {
	var mine []string
	for _, w := range ws {
		if w != wMem {
			mine = append(mine, w)
		}
	}
	s, err := d.start(round, p, "echo")
	if err != nil {
		d.fail(round, p, mine, fmt.Errorf("server: %w", err))
		return
	}
	defer d.stopServer(s)
	c := d.cfg
	for i, w := range mine {
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
		select {
		case <-s.done:
			d.fail(round, p, mine[i+1:], fmt.Errorf("server exited during %s (%v)", w, s.cmd.ProcessState))
			return
		default:
		}
	}
}

// memPhase runs the memory workload against one fresh server.
func (d *driver) memPhase(round int, p *peer) {
	s, err := d.start(round, p, "mem")
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
		return fmt.Sprintf("%d B/conn idle, %d B/conn after one echo (%d conns)", r.IdlePerConn, r.MsgPerConn, r.Conns)
	}
	s := fmt.Sprintf("%.0f msgs/s, p50 %d µs, p99 %d µs, server CPU %.0f%%", r.MsgsPerS, r.P50us, r.P99us, 100*r.SrvCPU/r.WindowSec)
	if r.SrvCPU > 0 {
		s += fmt.Sprintf(", %.0f msgs/server CPU-s, %.2f µs/msg", float64(r.Msgs)/r.SrvCPU, r.SrvCPU/float64(r.Msgs)*1e6)
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
