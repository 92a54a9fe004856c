//go:build footprint

// Package footprint measures the memory of the nriwasm binary as users run
// it: a `nriwasm run` process, serving plugins to containerd's NRI library
// over a socket, its resident set read from /proc. `make footprint` runs it
// and writes the table to out/footprint-GOARCH.md.
//
//	NRIWASM_BIN       the binary to measure (default: built from this tree)
//	NRIWASM_EMULATOR  a command to run it under, e.g. qemu-arm-static
//	NRIWASM_ROWS      "small" to skip the 10 MB Go guests (slow under qemu)
package footprint

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/containerd/nri/pkg/api"

	"github.com/nriwasm/nriwasm/internal/testplugins"
	"github.com/nriwasm/nriwasm/internal/testutil"
	"github.com/nriwasm/nriwasm/nri/sim"
)

type row struct {
	name    string
	engine  string
	plugins []string // testplugins names, registered as 10-p0, 11-p1, ...
	limit   string   // memory_limit
	grow    bool     // make the first plugin (fault) grow to its limit
}

func TestFootprint(t *testing.T) {
	bin := os.Getenv("NRIWASM_BIN")
	if bin == "" {
		bin = filepath.Join(t.TempDir(), "nriwasm")
		build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "../..")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
	}
	rows := []row{
		{name: "smallest guest (360 B WAT)", engine: "auto", plugins: []string{"command"}},
		{name: "1 small plugin (C injector, 30 KB)", engine: "auto", plugins: []string{"cinjector"}},
		{name: "3 small plugins", engine: "auto", plugins: []string{"cinjector", "cinjector", "cinjector"}},
		{name: "1 small plugin, interpreter", engine: "interpreter", plugins: []string{"cinjector"}},
	}
	if os.Getenv("NRIWASM_ROWS") != "small" {
		rows = append(rows,
			row{name: "10 MB Go guest (injector), compiler", engine: "compiler", plugins: []string{"injector"}},
			row{name: "10 MB Go guest (injector), interpreter", engine: "interpreter", plugins: []string{"injector"}},
			row{name: "Go guest grown to its 64 MiB limit", engine: "auto", plugins: []string{"fault"}, limit: "64MiB", grow: true},
		)
	}
	if runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64" || os.Getenv("NRIWASM_EMULATOR") != "" {
		// Where auto is the interpreter anyway, the compiler rows cannot run.
		rows = slicesDeleteCompiler(rows)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "| %s | RSS after registration | peak RSS |\n|---|---|---|\n", label())
	results := map[string]uint64{}
	for _, r := range rows {
		measure(t, bin, r) // fills the compilation cache: a restart is the common case
		rss, peak := measure(t, bin, r)
		results[r.name] = rss
		fmt.Fprintf(&b, "| %s | %.1f MiB | %.1f MiB |\n", r.name, mib(rss), mib(peak))
	}
	if one, three := results["1 small plugin (C injector, 30 KB)"], results["3 small plugins"]; one > 0 && three > 0 {
		fmt.Fprintf(&b, "| each extra small plugin | %+.1f MiB | |\n", (mib(three)-mib(one))/2)
	}
	t.Log("\n" + b.String())
	if out := os.Getenv("NRIWASM_FOOTPRINT_OUT"); out != "" {
		if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func slicesDeleteCompiler(rows []row) []row {
	var out []row
	for _, r := range rows {
		if r.engine != "compiler" {
			out = append(out, r)
		}
	}
	return out
}

func label() string {
	if e := os.Getenv("NRIWASM_EMULATOR"); e != "" {
		return "nriwasm under " + filepath.Base(e) + " (RSS includes the emulator)"
	}
	return "nriwasm on " + runtime.GOOS + "/" + runtime.GOARCH
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }

// measure runs `nriwasm run` with r's plugins against an in-process runtime
// and reads its RSS once every plugin has registered (and, for a growing
// guest, after it grew).
func measure(t *testing.T, bin string, r row) (rss, peak uint64) {
	t.Helper()
	dir := testutil.ShortDir(t)
	plugins := filepath.Join(dir, "plugins")
	if err := os.Mkdir(plugins, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, p := range r.plugins {
		b, err := os.ReadFile(testplugins.Path(t, p))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(plugins, fmt.Sprintf("%02d-p%d.wasm", 10+i, i)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	limit := r.limit
	if limit == "" {
		limit = "32MiB"
	}
	config := filepath.Join(dir, "config.toml")
	body := fmt.Sprintf("socket = %q\nplugin_dir = %q\ncache_dir = %q\nengine = %q\nmemory_budget = \"1GiB\"\nlog_level = \"warn\"\n[defaults]\nmemory_limit = %q\ntimeout = \"10s\"\non_error = \"ignore\"\n",
		filepath.Join(dir, "nri.sock"), plugins, filepath.Join(cache, "nriwasm-footprint"), r.engine, limit)
	if err := os.WriteFile(config, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	rt, err := sim.Start(filepath.Join(dir, "nri.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Stop()
	args := []string{bin, "run", "-config", config}
	if e := os.Getenv("NRIWASM_EMULATOR"); e != "" {
		args = append([]string{e}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := rt.WaitPlugins(ctx, len(r.plugins)); err != nil {
		t.Fatalf("%s: %v", r.name, err)
	}
	if r.grow {
		pod := rt.NewPod("p", "default", "", nil, nil)
		ctr := rt.NewContainer(pod, "c", nil, nil, nil, map[string]string{"fault.nriwasm.test/create": "grow"})
		if _, err := rt.Event(ctx, api.Event_CREATE_CONTAINER, pod, ctr, nil); err != nil {
			t.Fatalf("%s: %v", r.name, err)
		}
	}
	return testutil.ProcStatus(t, cmd.Process.Pid, "VmRSS"), testutil.ProcStatus(t, cmd.Process.Pid, "VmHWM")
}
