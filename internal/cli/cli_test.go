package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nriwasm/nriwasm/internal/cli"
	"github.com/nriwasm/nriwasm/internal/testplugins"
)

// writeConfig writes a config file using the tests' shared compilation
// cache, in a directory of its own (nriwasm refuses group- or
// world-writable ones).
func writeConfig(t *testing.T, body string) string {
	t.Helper()
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "etc")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "config.toml")
	body = "cache_dir = " + strconvQuote(filepath.Join(cache, "nriwasm-test-compilation")) + "\n" + body
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func strconvQuote(s string) string { b, _ := json.Marshal(s); return string(b) }

func env() (cli.Env, *bytes.Buffer, *bytes.Buffer) {
	var out, errs bytes.Buffer
	return cli.Env{Stdout: &out, Stderr: &errs, Version: "test"}, &out, &errs
}

// check reports every file, and fails when any would not load, with the
// reason per file.
func TestCheck(t *testing.T) {
	dir := t.TempDir()
	good := testplugins.Path(t, "injector")
	bin, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"elf.wasm":       []byte("\x7fELF\x02\x01\x01\x00"),
		"truncated.wasm": bin[:4096],
		"noabi.wasm":     {0, 'a', 's', 'm', 1, 0, 0, 0},
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	e, out, _ := env()
	args := []string{good, filepath.Join(dir, "elf.wasm"), filepath.Join(dir, "truncated.wasm"), filepath.Join(dir, "noabi.wasm")}
	err = cli.Check(context.Background(), e, writeConfig(t, ""), true, args)
	if !errors.Is(err, cli.ErrFailed) {
		t.Fatalf("Check = %v, want ErrFailed", err)
	}
	var reports []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		reports = append(reports, r)
	}
	if len(reports) != 4 {
		t.Fatalf("%d reports for 4 files:\n%s", len(reports), out)
	}
	if r := reports[0]; r["ok"] != true || r["abi"] != "v0.12 per-event exports, reactor" ||
		r["memory_cap_bytes"] != float64(32<<20) || r["instantiate_ms"] == nil || r["engine"] == nil {
		t.Errorf("good plugin: %v", r)
	}
	for i, want := range []string{"not a WebAssembly module", "truncated", "plugin_api_version is not exported"} {
		r := reports[i+1]
		if r["ok"] != false || !strings.Contains(r["error"].(string), want) {
			t.Errorf("%s: %v, want an error saying %q", r["file"], r, want)
		}
	}
}

// The demo replays the built-in scenario with the example plugins and shows
// their adjustments; a plugin that fails to load gets a "load" line and the
// others run.
func TestDemo(t *testing.T) {
	plugins := testplugins.Dir(t)
	if err := os.WriteFile(filepath.Join(plugins, "40-broken.wasm"), []byte("\x00asm\x01\x00\x00\x00\x05"), 0o644); err != nil {
		t.Fatal(err)
	}
	e, out, errs := env()
	err := cli.Demo(context.Background(), e, cli.DemoOptions{Config: writeConfig(t, ""), PluginDir: plugins, JSON: true})
	if err != nil {
		t.Fatalf("Demo: %v\n%s", err, errs)
	}
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		lines = append(lines, m)
	}
	if len(lines) != 1+21 { // the load failure, then 21 events of one pod with two containers
		t.Fatalf("%d lines:\n%s", len(lines), out)
	}
	if l := lines[0]; l["event"] != "load" || l["plugin"] != "40-broken" || l["error"] == nil {
		t.Errorf("first line %v, want the load failure of 40-broken", l)
	}
	var creates int
	for _, l := range lines[1:] {
		if l["error"] != nil {
			t.Errorf("%v", l)
		}
		if l["event"] != "CreateContainer" {
			continue
		}
		creates++
		resp, _ := json.Marshal(l["response"])
		for _, want := range []string{`"NRIWASM_INJECTED"`, `"nriwasm.dev/injected-by":"injector"`} {
			if !strings.Contains(string(resp), want) {
				t.Errorf("CreateContainer %s: response %s lacks %s", l["container"], resp, want)
			}
		}
		if hasRlimit := strings.Contains(string(resp), "RLIMIT_NOFILE"); hasRlimit != (l["container"] == "app") {
			t.Errorf("CreateContainer %s: rlimit in response = %v", l["container"], hasRlimit)
		}
	}
	if creates != 2 {
		t.Errorf("%d CreateContainer lines, want 2", creates)
	}
	if !strings.Contains(errs.String(), `msg="CreateContainer pod=default/demo container=app"`) {
		t.Errorf("the logger plugin's lines are missing from the log:\n%s", errs)
	}
}

// A scenario file replaces the built-in one; a bad one is refused with its
// file and key.
func TestDemoScenario(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte("[[pod]]\nname = \"p\"\n[[pod.container]]\nnmae = \"c\"\n"), 0o644)
	e, _, _ := env()
	err := cli.Demo(context.Background(), e, cli.DemoOptions{Config: writeConfig(t, ""), Scenario: bad, PluginDir: testplugins.Dir(t)})
	if err == nil || !strings.Contains(err.Error(), "bad.toml") || !strings.Contains(err.Error(), "nmae") {
		t.Fatalf("bad scenario: %v", err)
	}
	good := filepath.Join(dir, "good.toml")
	os.WriteFile(good, []byte("[[pod]]\nname = \"p\"\nnamespace = \"ns\"\n[[pod.container]]\nname = \"only\"\nenv = [\"A=1\"]\n"), 0o644)
	e, out, errs := env()
	if err := cli.Demo(context.Background(), e, cli.DemoOptions{Config: writeConfig(t, ""), Scenario: good, PluginDir: testplugins.Dir(t)}); err != nil {
		t.Fatalf("%v\n%s", err, errs)
	}
	if n := strings.Count(out.String(), "\n"); n != 13 || !strings.Contains(out.String(), "ns/p/only") {
		t.Errorf("%d lines for one pod with one container, want 13:\n%s", n, out)
	}
}

// Without files, check reports every configured plugin, with its settings.
func TestCheckConfigured(t *testing.T) {
	e, out, _ := env()
	config := writeConfig(t, "plugin_dir = "+strconvQuote(testplugins.Dir(t))+"\n[[plugin]]\nname = \"ulimit\"\nmemory_limit = \"64KiB\"\n")
	err := cli.Check(context.Background(), e, config, false, nil)
	if !errors.Is(err, cli.ErrFailed) {
		t.Fatalf("Check = %v, want ErrFailed for the plugin under its limit", err)
	}
	for _, want := range []string{"10-logger.wasm: ok", "20-injector.wasm: ok", "30-ulimit.wasm: FAIL: wasm: memory limit"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

// A plugin that cannot fit the budget is refused with the numbers: what it
// needs, split up, the budget and what is in use.
func TestCheckOverBudget(t *testing.T) {
	e, out, _ := env()
	err := cli.Check(context.Background(), e, writeConfig(t, "memory_budget = \"40MiB\"\n"), false,
		[]string{testplugins.Path(t, "cinjector"), testplugins.Path(t, "injector")})
	if !errors.Is(err, cli.ErrFailed) {
		t.Fatalf("Check = %v, want ErrFailed", err)
	}
	lines := strings.Split(out.String(), "\n")
	if !strings.HasSuffix(lines[0], "cinjector.wasm: ok") {
		t.Errorf("the small plugin: %s", lines[0])
	}
	for _, want := range []string{"injector.wasm: FAIL: memory: budget exceeded", "MiB linear", "MiB code", "1 MiB overhead", "budget 40 MiB", "in use by 1 plugin"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}
