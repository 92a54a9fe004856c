package main

import (
	"bufio"
	"bytes"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// forbidden are the packages the release build must not link, as patterns
// ("p/..." is p and every package below it), with the reason. A feature that
// needs one goes behind a build tag that release builds do not set: these
// tests list the default build.
//
// Linked, and fine: net (the UNIX socket to the runtime), os/exec
// (pkg/adaptation, the demo's in-process runtime), grpc/codes and grpc/status
// (ttrpc's errors), debug/dwarf (wazero's stack traces).
var forbidden = map[string]string{
	"runtime/cgo":            "the release is static and cgo-free",
	"net/http/...":           "the daemon speaks ttrpc over a UNIX socket; net/http alone adds ~3 MiB",
	"crypto/tls/...":         "nothing talks to the network",
	"google.golang.org/grpc": "the gRPC client and server (HTTP/2); ttrpc needs only grpc/codes and grpc/status",
	"text/template/...":      "looking methods up by name makes the linker keep every exported method of every type",
	"html/template/...":      "as text/template",
}

func TestReleaseLinksNothingForbidden(t *testing.T) {
	for _, goarch := range releaseArchs(t) {
		t.Run(goarch, func(t *testing.T) {
			t.Parallel()
			root, deps := listDeps(t, "GOOS=linux", "GOARCH="+goarch, "CGO_ENABLED=0")
			for _, pkg := range slices.Sorted(maps.Keys(deps)) {
				for pattern, why := range forbidden {
					if prefix, all := strings.CutSuffix(pattern, "/..."); pkg == pattern || all && (pkg == prefix || strings.HasPrefix(pkg, prefix+"/")) {
						t.Errorf("%s is linked (%s), through %s", pkg, why, strings.Join(importChain(deps, root, pkg), " -> "))
					}
				}
			}
		})
	}
}

// With cgo available a dependency could quietly behave differently from
// the CGO_ENABLED=0 release; only the standard library's own fallbacks are
// known to be equivalent.
func TestNoDependencyUsesCgo(t *testing.T) {
	root, deps := listDeps(t, "CGO_ENABLED=1")
	for _, pkg := range slices.Sorted(maps.Keys(deps)) {
		if p := deps[pkg]; p.cgo && !p.std {
			t.Errorf("%s has cgo files, through %s", pkg, strings.Join(importChain(deps, root, pkg), " -> "))
		}
	}
}

// releaseArchs are the GOARCH values of cross/targets.txt.
func releaseArchs(t *testing.T) []string {
	b, err := os.ReadFile("cross/targets.txt")
	if err != nil {
		t.Fatal(err)
	}
	var archs []string
	for line := range strings.Lines(string(b)) {
		if f := strings.Fields(line); len(f) > 1 && !strings.HasPrefix(f[0], "#") && !slices.Contains(archs, f[1]) {
			archs = append(archs, f[1])
		}
	}
	return archs
}

type pkgInfo struct {
	std, cgo bool
	imports  []string
}

// listDeps runs go list -deps on the main package with env (and no GOFLAGS:
// the default build) and returns its import path and every package it links.
func listDeps(t *testing.T, env ...string) (string, map[string]pkgInfo) {
	cmd := exec.Command("go", "list", "-deps", "-f", `{{.ImportPath}} {{.Standard}} {{len .CgoFiles}} {{join .Imports " "}}`, ".")
	cmd.Env = append(os.Environ(), append(env, "GOFLAGS=")...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(append(env, cmd.String()), " "), err, stderr.Bytes())
	}
	deps := map[string]pkgInfo{}
	var root string
	for s := bufio.NewScanner(bytes.NewReader(out)); s.Scan(); {
		f := strings.Fields(s.Text())
		root = f[0] // go list -deps prints the main package last
		deps[f[0]] = pkgInfo{std: f[1] == "true", cgo: f[2] != "0", imports: f[3:]}
	}
	return root, deps
}

// importChain returns a shortest chain of imports from root to pkg.
func importChain(deps map[string]pkgInfo, root, pkg string) []string {
	from := map[string]string{root: ""}
	for queue := []string{root}; len(queue) > 0; queue = queue[1:] {
		for _, next := range deps[queue[0]].imports {
			if _, seen := from[next]; !seen {
				from[next] = queue[0]
				queue = append(queue, next)
			}
		}
	}
	var chain []string
	for p := pkg; p != ""; p = from[p] {
		chain = append([]string{p}, chain...)
	}
	return chain
}
