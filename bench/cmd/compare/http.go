package main

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/eddyloop/eddy/bench/internal/httpcheck"
	"github.com/eddyloop/eddy/bench/internal/procstat"
)

// pipelineLua is the wrk script of the pipelined workload; setup writes it
// into the results folder.
//
//go:embed pipeline.lua
var pipelineLua []byte

func (d *driver) pipelineScript() string { return filepath.Join(d.out, "pipeline.lua") }

// gateTimeout bounds each check of the HTTP gate.
const gateTimeout = 5 * time.Second

// ensureWrk installs wrk with apt-get (through sudo when not root) if it is
// not on the PATH, and fails with what to do when that does not work.
func (d *driver) ensureWrk() error {
	if _, err := exec.LookPath("wrk"); err == nil {
		return nil
	}
	logPath := filepath.Join(d.out, "logs", "apt.log")
	how := "install it (Debian: apt-get install wrk) or leave http out of -workloads"
	if _, err := exec.LookPath("apt-get"); err != nil {
		return fmt.Errorf("wrk is needed for the HTTP workloads and is not installed, and there is no apt-get here: %s", how)
	}
	var prefix []string
	if os.Geteuid() != 0 {
		if _, err := exec.LookPath("sudo"); err != nil {
			return fmt.Errorf("wrk is needed for the HTTP workloads and is not installed, and installing it needs root (no sudo here): %s", how)
		}
		prefix = []string{"sudo"}
	}
	d.logf("wrk is not installed: installing Debian's wrk package with apt-get (output in %s)", logPath)
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logf.Close()
	apt := func(args ...string) error {
		argv := append(slices.Clone(prefix), "env", "DEBIAN_FRONTEND=noninteractive", "apt-get")
		argv = append(argv, args...)
		fmt.Fprintf(logf, "$ %s\n", strings.Join(argv, " "))
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, logf, logf // sudo may ask for a password
		if err := cmd.Start(); err != nil {
			return err
		}
		d.procs.add(cmd)
		defer d.procs.forget(cmd)
		return cmd.Wait()
	}
	err = apt("install", "-y", "wrk")
	if err != nil { // the package lists may be missing or stale
		if err = apt("update"); err == nil {
			err = apt("install", "-y", "wrk")
		}
	}
	if _, lerr := exec.LookPath("wrk"); lerr != nil {
		if err == nil {
			err = lerr
		}
		return fmt.Errorf("wrk is needed for the HTTP workloads and is not installed; apt-get install -y wrk failed (%v; see %s): %s", err, logPath, how)
	}
	d.logf("wrk installed")
	return nil
}

// httpPhase starts a fresh HTTP server p, runs the correctness gate and,
// if it passes, the wrk, pipelined and cost workloads. It reports whether
// the gate passed.
func (d *driver) httpPhase(round int, p *peer) bool {
	ws := d.selected(wWrk, wPipe, wHCost)
	s, err := d.start(round, p, pHTTP, "http")
	if err != nil {
		d.fail(round, p, append([]string{wCheck}, d.selected(wWrk, wPipe, wHCost, wHMem)...), fmt.Errorf("server: %w", err))
		return false
	}
	defer d.stopServer(s)
	if !d.gate(round, p, s) {
		for _, w := range d.selected(wWrk, wPipe, wHCost, wHMem) {
			d.prog.done(d.stepCost(w))
		}
		return false
	}
	c := d.cfg
	warm := false
	for i, w := range ws {
		d.prog.status(fmt.Sprintf("round %d/%d %s %s", round, c.rounds, p.name, w))
		switch w {
		case wWrk, wPipe:
			if !warm {
				d.wrkWarmup(round, p, s)
				warm = true
			}
			d.measureWrk(round, p, s, w)
		case wHCost:
			args := []string{"-proto", "http", "-addr", s.addr, "-pid", fmt.Sprint(s.pid), "-c", fmt.Sprint(c.conns),
				"-warmup", c.warmup.String(), "-rate", fmt.Sprint(c.costRate), "-d", c.costDur.String()}
			d.measure(round, p, w, c.warmup+c.costDur+30*time.Second, args)
		}
		if d.exited(round, p, s, w, ws[i+1:]) {
			break
		}
	}
	return true
}

// gate runs the HTTP correctness gate against s and records it; a server
// that fails it is not measured, in this round or later ones.
func (d *driver) gate(round int, p *peer, s *server) bool {
	d.prog.status(fmt.Sprintf("round %d/%d %s HTTP check", round, d.cfg.rounds, p.name))
	res, err := httpcheck.Gate(s.addr, gateTimeout)
	d.prog.done(d.stepCost(wCheck))
	var b strings.Builder
	for _, r := range res {
		if r.Err == "" {
			fmt.Fprintf(&b, "ok   %s\n", r.Name)
		} else {
			fmt.Fprintf(&b, "FAIL %s: %s\n", r.Name, r.Err)
		}
	}
	os.WriteFile(filepath.Join(d.out, "logs", fmt.Sprintf("%s-check-r%d.log", p.name, round)), []byte(b.String()), 0o644)
	smp := sample{Round: round, Peer: p.name, Workload: wCheck, Check: res}
	if err != nil {
		smp.Error = err.Error()
		d.gateFailed[p.name] = fmt.Sprintf("round %d: %v", round, err)
		d.logf("%s: failed the HTTP check, not measured: %v", p.name, err)
	} else {
		d.logf("%s: HTTP check passed", p.name)
	}
	d.record(smp)
	return err == nil
}

// wrkWarmup runs wrk, not pipelined, for the warm-up time, unmeasured.
func (d *driver) wrkWarmup(round int, p *peer, s *server) {
	logPath := filepath.Join(d.out, "logs", fmt.Sprintf("%s-wrk-warmup-r%d.load.log", p.name, round))
	if _, err := d.runWrk(s, d.cfg.wrkWarmup, 1, logPath); err != nil {
		d.logf("%s: wrk warm-up: %v", p.name, err)
	}
}

// measureWrk runs and records the wrk workload w (wWrk or wPipe).
func (d *driver) measureWrk(round int, p *peer, s *server, w string) {
	dur, depth := d.cfg.wrkDur, 1
	if w == wPipe {
		dur, depth = d.cfg.pipeDur, d.cfg.depth
	}
	logPath := filepath.Join(d.out, "logs", fmt.Sprintf("%s-%s-r%d.load.log", p.name, w, round))
	res, err := d.runWrk(s, dur, depth, logPath)
	d.prog.done(d.stepCost(w))
	d.recordResult(round, p, w, res, err, logPath)
}

// runWrk runs wrk with one thread and the configured connections against
// s for dur (whole seconds), depth requests per write, pinned to the load
// CPU, and returns what it measured. The server's CPU time is read just
// before wrk starts and just after it ends, so it covers wrk's window and
// its connection set-up.
func (d *driver) runWrk(s *server, dur time.Duration, depth int, logPath string) (*procstat.Result, error) {
	secs := max(1, int(dur/time.Second))
	argv := []string{"wrk", "-t1", fmt.Sprintf("-c%d", d.cfg.conns), fmt.Sprintf("-d%ds", secs), "--latency"}
	if depth > 1 {
		argv = append(argv, "-s", d.pipelineScript())
	}
	argv = append(argv, "http://"+s.addr+"/")
	if depth > 1 {
		argv = append(argv, "--", strconv.Itoa(depth))
	}
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	fmt.Fprintf(logf, "$ %s\n", strings.Join(argv, " "))
	cmd := d.pinned(d.cfg.loadCPU, argv...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, logf
	srv0, _ := procstat.CPUSeconds(s.pid)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	d.procs.add(cmd)
	var timedOut atomic.Bool
	limit := time.Duration(secs)*time.Second + 30*time.Second
	t := time.AfterFunc(limit, func() {
		timedOut.Store(true)
		cmd.Process.Kill()
	})
	err = cmd.Wait()
	t.Stop()
	srv1, _ := procstat.CPUSeconds(s.pid)
	d.procs.forget(cmd)
	logf.Write(out.Bytes())
	if timedOut.Load() {
		return nil, fmt.Errorf("wrk killed after %v", limit)
	}
	res, perr := parseWrk(out.String())
	if perr != nil {
		if err == nil {
			err = perr
		}
		return nil, fmt.Errorf("wrk: %w", err)
	}
	res.Conns, res.Size = d.cfg.conns, depth*len(httpcheck.Request)
	res.SrvCPU = srv1 - srv0
	res.LoadCPU = (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
	if err != nil {
		return res, fmt.Errorf("wrk: %w", err)
	}
	return res, nil
}

var (
	wrkTotal   = regexp.MustCompile(`(?m)^\s*(\d+) requests in ([0-9.]+)(us|ms|s|m|h)\b`)
	wrkRate    = regexp.MustCompile(`(?m)^Requests/sec:\s*([0-9.]+)`)
	wrkPct     = regexp.MustCompile(`(?m)^\s*(50|99)(?:\.0+)?%\s+([0-9.]+)(us|ms|s|m|h)\s*$`)
	wrkSockErr = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	wrkNon2xx  = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
)

// wrkUnits converts wrk's time units to microseconds.
var wrkUnits = map[string]float64{"us": 1, "ms": 1e3, "s": 1e6, "m": 60e6, "h": 3600e6}

// parseWrk reads the summary wrk prints (with --latency): the requests and
// the window, requests/s, the 50th and 99th latency percentiles, and the
// socket errors plus non-2xx responses as Errors.
func parseWrk(out string) (*procstat.Result, error) {
	m := wrkTotal.FindStringSubmatch(out)
	r := wrkRate.FindStringSubmatch(out)
	if m == nil || r == nil {
		return nil, errors.New("no summary in wrk's output")
	}
	res := &procstat.Result{Mode: "wrk", Proto: pHTTP}
	res.Msgs, _ = strconv.ParseInt(m[1], 10, 64)
	win, _ := strconv.ParseFloat(m[2], 64)
	res.WindowSec = win * wrkUnits[m[3]] / 1e6
	res.MsgsPerS, _ = strconv.ParseFloat(r[1], 64)
	for _, p := range wrkPct.FindAllStringSubmatch(out, -1) {
		v, _ := strconv.ParseFloat(p[2], 64)
		us := int64(v*wrkUnits[p[3]] + 0.5)
		if p[1] == "50" {
			res.P50us = us
		} else {
			res.P99us = us
		}
	}
	if e := wrkSockErr.FindStringSubmatch(out); e != nil {
		for _, n := range e[1:] {
			v, _ := strconv.ParseInt(n, 10, 64)
			res.Errors += v
		}
	}
	if e := wrkNon2xx.FindStringSubmatch(out); e != nil {
		v, _ := strconv.ParseInt(e[1], 10, 64)
		res.Errors += v
	}
	if res.Msgs == 0 || res.WindowSec <= 0 {
		return res, errors.New("wrk completed no request")
	}
	return res, nil
}

// httpMemPhase runs the HTTP memory workload against one fresh server.
func (d *driver) httpMemPhase(round int, p *peer) {
	s, err := d.start(round, p, pHTTP, "http-mem")
	if err != nil {
		d.fail(round, p, []string{wHMem}, fmt.Errorf("server: %w", err))
		return
	}
	defer d.stopServer(s)
	c := d.cfg
	d.prog.status(fmt.Sprintf("round %d/%d %s http-mem (%d keep-alive conns)", round, c.rounds, p.name, c.idleConns))
	args := []string{"-mode", "idle", "-proto", "http", "-addr", s.addr, "-pid", fmt.Sprint(s.pid),
		"-c", fmt.Sprint(c.idleConns), "-settle", c.settle.String(), "-timeout", "30s"}
	d.measure(round, p, wHMem, 4*time.Minute, args)
}
