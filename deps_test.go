package eddy_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// The layering of DESIGN.md, as rules on the packages of this module: a
// package imports only layers below it. Each rule covers the packages that
// match pkg and applies to everything they import, directly or not, or
// only to what they import directly when the rule says direct (test files
// aside either way: go list follows only the code that gets built).
//
// Patterns: "." is the module root, "./x" the package x of the module,
// "./x/..." x and every package below it, "./..." the whole module;
// "std" is the standard library; anything else is an import path, with
// "/..." meaning that path and everything below it.
var layerRules = []struct {
	pkg  string
	deny []string // none of the dependencies may match these
	only []string // if set, every dependency must match one of these
	// direct applies the rule to the direct imports only: a command may
	// use evnet, which uses internal/sock, but not internal/sock itself.
	direct bool
	why    string
}{
	{pkg: ".", deny: []string{"./evnet/...", "./evdns/...", "./evhttp/...", "./eddytest/...", "./internal/testutil/...", "./cmd/..."},
		why: "the loop is the bottom of the public layers"},
	{pkg: "./internal/poller/...", only: []string{"std", "golang.org/x/sys/..."},
		why: "the backends are a leaf: the kernel and nothing else"},
	{pkg: "./internal/sock/...", only: []string{"std", "golang.org/x/sys/..."},
		why: "descriptor creation is a leaf"},
	{pkg: "./eddytest/...", only: []string{"std", "./internal/poller/...", "golang.org/x/sys/..."},
		why: "the fake backend and clock sit below the loop, beside the real backends"},
	{pkg: "./evnet/...", deny: []string{"./evdns/...", "./evhttp/..."},
		why: "streams know nothing of DNS or HTTP"},
	{pkg: "./evdns/...", deny: []string{"./evhttp/..."},
		why: "the resolver knows nothing of HTTP"},
	{pkg: "./evhttp/internal/h1/...", only: []string{"std", "./internal/ascii"},
		why: "the HTTP parser is pure: bytes in, results out"},
	{pkg: "./evhttp", deny: []string{"./evdns/...", "./evhttp/evclient/..."},
		why: "the HTTP server does not import evdns (resolving names is the client's business) nor the client"},
	{pkg: "./evws/...", only: []string{"std", "golang.org/x/...", ".", "./evnet/...", "./evdns/...", "./evhttp/...", "./internal/..."},
		why: "WebSocket sits above the HTTP server and client, below the commands"},
	{pkg: "./evnet/...", deny: []string{"./evws/..."}, why: "streams know nothing of WebSocket"},
	{pkg: "./evdns/...", deny: []string{"./evws/..."}, why: "the resolver knows nothing of WebSocket"},
	{pkg: "./evhttp/...", deny: []string{"./evws/..."}, why: "HTTP knows nothing of WebSocket: evws is above it"},
	{pkg: "./evproxy/...", only: []string{"std", "golang.org/x/...", ".", "./evnet/...", "./evdns/...", "./evhttp/...", "./internal/..."},
		why: "the reverse proxy sits above the HTTP server and client, below the commands"},
	{pkg: "./evnet/...", deny: []string{"./evproxy/..."}, why: "streams know nothing of the proxy"},
	{pkg: "./evdns/...", deny: []string{"./evproxy/..."}, why: "the resolver knows nothing of the proxy"},
	{pkg: "./evhttp/...", deny: []string{"./evproxy/..."}, why: "HTTP knows nothing of the proxy: evproxy is above it"},
	{pkg: "./evws/...", deny: []string{"./evproxy/..."}, why: "WebSocket knows nothing of the proxy"},
	{pkg: "./evmetrics/...", only: []string{"std", "golang.org/x/...", ".", "./evnet/...", "./evdns/...", "./evhttp/...", "./evws/...", "./internal/..."},
		why: "the metrics exposition sits above the layers whose figures it writes (they keep their own, in plain types), below the commands; the proxy's come through a Collector"},
	{pkg: ".", deny: []string{"./evmetrics/..."}, why: "the loop keeps its figures; it knows nothing of their exposition"},
	{pkg: "./evnet/...", deny: []string{"./evmetrics/..."}, why: "streams keep their figures; they know nothing of their exposition"},
	{pkg: "./evdns/...", deny: []string{"./evmetrics/..."}, why: "the resolver knows nothing of the metrics exposition"},
	{pkg: "./evhttp/...", deny: []string{"./evmetrics/..."}, why: "HTTP keeps its figures; it knows nothing of their exposition (evmetrics is above it)"},
	{pkg: "./evws/...", deny: []string{"./evmetrics/..."}, why: "WebSocket knows nothing of the metrics exposition"},
	{pkg: "./evproxy/...", deny: []string{"./evmetrics/..."}, why: "the proxy knows nothing of the metrics exposition: a command writes its figures with a Collector"},
	{pkg: "./internal/ascii/...", only: []string{"std"},
		why: "case folding is a leaf"},
	{pkg: "./internal/wsconform/...", only: []string{"std"},
		why: "the conformance runner tests any WebSocket implementation: it knows nothing of eddy's"},
	{pkg: "./...", deny: []string{"./internal/testutil/..."},
		why: "test helpers are imported by _test.go files only"},
	{pkg: "./...", deny: []string{"./cmd/..."},
		why: "nothing imports the command"},
	{pkg: "./cmd/...", deny: []string{"./internal/..."}, direct: true,
		why: "every command is an example a user can copy: public API only (its tests may use internal/testutil)"},
}

// goPackage is what the rules need from go list -json.
type goPackage struct {
	ImportPath string
	Standard   bool
	Imports    []string // direct imports
	Deps       []string // direct and indirect imports
	Module     *struct{ Path string }
}

// depsViolations checks the packages of module mod (pkgs also holds their
// dependencies) against layerRules, and returns one line per broken rule.
func depsViolations(mod string, pkgs []goPackage) []string {
	std := make(map[string]bool)
	for _, p := range pkgs {
		if p.Standard {
			std[p.ImportPath] = true
		}
	}
	match := func(pattern, path string) bool {
		switch {
		case pattern == "std":
			return std[path]
		case pattern == ".":
			return path == mod
		case strings.HasPrefix(pattern, "./"):
			pattern = mod + pattern[1:]
		}
		if base, ok := strings.CutSuffix(pattern, "/..."); ok {
			return path == base || strings.HasPrefix(path, base+"/")
		}
		return path == pattern
	}
	matchAny := func(patterns []string, path string) bool {
		return slices.ContainsFunc(patterns, func(pat string) bool { return match(pat, path) })
	}
	var bad []string
	for _, p := range pkgs {
		if p.Module == nil || p.Module.Path != mod {
			continue
		}
		for _, r := range layerRules {
			if !match(r.pkg, p.ImportPath) {
				continue
			}
			deps := p.Deps
			if r.direct {
				deps = p.Imports
			}
			for _, d := range deps {
				if matchAny(r.deny, d) || r.only != nil && !matchAny(r.only, d) {
					bad = append(bad, fmt.Sprintf("%s imports %s: %s", p.ImportPath, d, r.why))
				}
			}
		}
	}
	return bad
}

// goList runs go list -deps -json on the module for a build configuration
// (GOOS and build tags, since files chosen by them may import other
// packages).
func goList(t *testing.T, goos, tags string) (mod string, pkgs []goPackage) {
	t.Helper()
	out, err := exec.Command("go", "list", "-m").Output()
	if err != nil {
		t.Fatalf("go list -m: %v", err)
	}
	mod = strings.TrimSpace(string(out))
	cmd := exec.Command("go", "list", "-e", "-deps", "-json=ImportPath,Standard,Imports,Deps,Module", "-tags="+tags, "./...")
	cmd.Env = append(os.Environ(), "GOOS="+goos)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err = cmd.Output()
	if err != nil {
		t.Fatalf("GOOS=%s go list -tags=%q: %v\n%s", goos, tags, err, stderr.Bytes())
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p goPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return mod, pkgs
}

// TestDeps enforces layerRules on the module as it builds on Linux (with
// and without the evpoll tag) and on the kqueue systems.
func TestDeps(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	for _, cfg := range []struct{ goos, tags string }{
		{"linux", ""}, {"linux", "evpoll"}, {"darwin", ""}, {"openbsd", ""},
	} {
		mod, pkgs := goList(t, cfg.goos, cfg.tags)
		if !slices.ContainsFunc(pkgs, func(p goPackage) bool { return p.ImportPath == mod }) {
			t.Fatalf("GOOS=%s: go list did not list the module root %s", cfg.goos, mod)
		}
		for _, v := range depsViolations(mod, pkgs) {
			t.Errorf("GOOS=%s tags=%q: %s", cfg.goos, cfg.tags, v)
		}
	}
}

// TestDepsRules checks that the rules catch what they should, on a made-up
// module.
func TestDepsRules(t *testing.T) {
	const mod = "example.com/m"
	mk := func(path string, deps ...string) goPackage {
		p := goPackage{ImportPath: path, Deps: deps, Module: &struct{ Path string }{mod}}
		if !strings.Contains(strings.Split(path, "/")[0], ".") {
			p.Module, p.Standard = nil, true
		}
		return p
	}
	ext := func(path string) goPackage {
		return goPackage{ImportPath: path, Module: &struct{ Path string }{"golang.org/x/sys"}}
	}
	pkgs := []goPackage{
		mk("fmt"), mk("os"), ext("golang.org/x/sys/unix"), ext("golang.org/x/net/dns/dnsmessage"),
		mk(mod, "fmt", mod+"/internal/poller", "golang.org/x/sys/unix", mod+"/eddytest"), // 0: eddytest
		mk(mod+"/internal/poller", "os", "golang.org/x/sys/unix"),                        // fine
		mk(mod+"/evnet", mod, mod+"/internal/poller", "fmt"),                             // fine
		mk(mod+"/cmd/eddy", mod+"/evnet", mod, "os"),                                     // fine
		mk(mod+"/evdns", mod+"/evnet", "golang.org/x/net/dns/dnsmessage", mod+"/evhttp"), // 1: evhttp
		mk(mod+"/internal/poller/sub", "golang.org/x/net/dns/dnsmessage"),                // 2: not x/sys
		mk(mod+"/eddytest", mod+"/internal/poller", mod),                                 // 3: the root
		mk(mod+"/evhttp/internal/h1", "golang.org/x/sys/unix"),                           // 4: not std
		mk(mod+"/evhttp", mod+"/internal/testutil", mod+"/cmd/eddy"),                     // 5, 6
		mk(mod+"/x", mod+"/eddytest"),                                                    // fine
		mk(mod+"/y", mod+"/evnet/internal/z"),                                            // fine
	}
	// Commands: only what they import directly counts.
	cmdOK := mk(mod+"/cmd/ok", mod+"/evnet", mod+"/internal/sock", "os")
	cmdOK.Imports = []string{mod + "/evnet", "os"}
	cmdBad := mk(mod+"/cmd/bad", mod, mod+"/internal/poller")
	cmdBad.Imports = []string{mod, mod + "/internal/poller"} // 7
	pkgs = append(pkgs, cmdOK, cmdBad)
	got := depsViolations(mod, pkgs)
	want := []string{
		mod + " imports " + mod + "/eddytest",
		mod + "/evdns imports " + mod + "/evhttp",
		mod + "/internal/poller/sub imports golang.org/x/net/dns/dnsmessage",
		mod + "/eddytest imports " + mod + ":",
		mod + "/evhttp/internal/h1 imports golang.org/x/sys/unix",
		mod + "/evhttp imports " + mod + "/internal/testutil",
		mod + "/evhttp imports " + mod + "/cmd/eddy",
		mod + "/cmd/bad imports " + mod + "/internal/poller",
	}
	for _, w := range want {
		if !slices.ContainsFunc(got, func(g string) bool { return strings.HasPrefix(g, w) }) {
			t.Errorf("no violation %q reported", w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %d violations, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
}
