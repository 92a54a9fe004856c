package wasm_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containerd/nri/pkg/api"

	"github.com/nriwasm/nriwasm/internal/testplugins"
	"github.com/nriwasm/nriwasm/internal/testutil"
	"github.com/nriwasm/nriwasm/wasm"
)

func read(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(testplugins.Path(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// cfg is the test configuration: the compilation cache shared by the tests
// (a 10 MB Go guest compiles in seconds, loads from the cache in a fraction
// of one) and a logger into buf.
func cfg(t testing.TB, buf *testutil.Buffer) wasm.Config {
	dir, err := os.UserCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	c := wasm.NewConfig().WithCacheDir(filepath.Join(dir, "nriwasm-test-compilation")).WithMemoryLimit(64 << 20)
	if buf != nil {
		c = c.WithLogger(slog.New(slog.NewTextHandler(buf, nil)))
	}
	return c
}

// Modules that are not NRI plugins are refused at Compile with the reason.
func TestCompileRefuses(t *testing.T) {
	plugin := read(t, "injector")
	// A module with one memory of 2 pages minimum and no exports.
	noExports := []byte{0, 'a', 's', 'm', 1, 0, 0, 0, 5, 3, 1, 0, 2}
	for _, tc := range []struct {
		name  string
		bin   []byte
		cfg   func(wasm.Config) wasm.Config
		want  error
		words []string
	}{
		{"elf", []byte("\x7fELF\x02\x01\x01\x00rest"), nil, wasm.ErrNotWasm, []string{"header"}},
		{"empty", nil, nil, wasm.ErrNotWasm, []string{"header"}},
		{"truncated", plugin[:len(plugin)/2], nil, wasm.ErrNotWasm, []string{"truncated"}},
		{"no exports", noExports, nil, wasm.ErrABI, []string{"plugin_api_version"}},
		{"memory above limit", plugin, func(c wasm.Config) wasm.Config { return c.WithMemoryLimit(1 << 20) }, wasm.ErrMemory, []string{"pages", "memory_limit allows 16 pages (1 MiB)"}},
		{"memory limit under a page", noExports, func(c wasm.Config) wasm.Config { return c.WithMemoryLimit(100) }, wasm.ErrMemory, []string{"less than one 64 KiB page"}},
		{"digest mismatch", plugin, func(c wasm.Config) wasm.Config { return c.WithSHA256(strings.Repeat("ab", 32)) }, wasm.ErrIntegrity, []string{"sha256 pins abab"}},
		{"unknown engine", plugin, func(c wasm.Config) wasm.Config { return c.WithEngine("jit") }, wasm.ErrEngine, []string{`"jit"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := cfg(t, nil)
			if tc.cfg != nil {
				c = tc.cfg(c)
			}
			m, err := wasm.Compile(context.Background(), tc.name, tc.bin, c)
			if err == nil {
				m.Close(context.Background())
				t.Fatal("compiled")
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("error %v, want %v", err, tc.want)
			}
			for _, w := range tc.words {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// The ABI generation and the events handled are detected from the exports.
func TestABIDetection(t *testing.T) {
	for _, tc := range []struct {
		plugin, abi string
		has         []wasm.Export
		missing     []wasm.Export
	}{
		{"injector", "v0.12 per-event exports, reactor", []wasm.Export{wasm.CreateContainer, wasm.ValidateContainerAdjustment}, nil},
		{"v010", "v0.10 state_change, reactor", []wasm.Export{wasm.StateChange, wasm.CreateContainer}, []wasm.Export{wasm.StartContainer}},
		{"command", "command (_start)", []wasm.Export{wasm.CreateContainer}, nil},
	} {
		t.Run(tc.plugin, func(t *testing.T) {
			m, err := wasm.Compile(context.Background(), tc.plugin, read(t, tc.plugin), cfg(t, nil))
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close(context.Background())
			if got := m.Info().ABI; !strings.Contains(got, tc.abi) {
				t.Errorf("ABI %q, want %q", got, tc.abi)
			}
			for _, e := range tc.has {
				if !m.ABI().Has(e) {
					t.Errorf("%s not detected", e)
				}
			}
			for _, e := range tc.missing {
				if m.ABI().Has(e) {
					t.Errorf("%s detected but not exported", e)
				}
			}
			// Events a v0.10 guest handles through plugin_state_change.
			if e, viaStateChange, ok := m.ABI().Route(api.Event_START_CONTAINER); tc.plugin == "v010" && (!ok || !viaStateChange || e != wasm.StateChange) {
				t.Errorf("StartContainer routed to %v (state change %v, handled %v)", e, viaStateChange, ok)
			}
		})
	}
}

func newPlugin(t *testing.T, name string, c wasm.Config, prepare wasm.Prepare) *wasm.Plugin {
	t.Helper()
	m, err := wasm.Compile(context.Background(), name, read(t, name), c)
	if err != nil {
		t.Fatal(err)
	}
	p := wasm.NewPlugin(m, prepare)
	t.Cleanup(func() { p.Close(context.Background()) })
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return p
}

func create(t *testing.T, p *wasm.Plugin, timeout time.Duration, fault string) (*api.CreateContainerResponse, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req := &api.CreateContainerRequest{
		Pod:       &api.PodSandbox{Id: "pod", Name: "p", Namespace: "default"},
		Container: &api.Container{Id: "ctr", Name: "c", Annotations: map[string]string{"fault.nriwasm.test/create": fault}},
	}
	resp := &api.CreateContainerResponse{}
	return resp, p.Call(ctx, wasm.CreateContainer, req, resp)
}

func instanceOf(resp *api.CreateContainerResponse) string {
	for _, kv := range resp.GetAdjust().GetEnv() {
		if kv.Key == "FAULT_INSTANCE" {
			return kv.Value
		}
	}
	return ""
}

// Every failure but an error reply discards the instance: the next call is
// served by a fresh one, prepared first.
func TestFailureReplacesInstance(t *testing.T) {
	for _, tc := range []struct {
		fault string
		want  error
	}{
		{"trap", wasm.ErrTrap},
		{"exit", wasm.ErrTrap},
		{"spin", wasm.ErrDeadline},
		{"grow", wasm.ErrTrap},
	} {
		t.Run(tc.fault, func(t *testing.T) {
			var prepared int
			var mu sync.Mutex
			p := newPlugin(t, "fault", cfg(t, nil).WithMemoryLimit(32<<20), func(context.Context, *wasm.Instance) error {
				mu.Lock()
				prepared++
				mu.Unlock()
				return nil
			})
			first, err := create(t, p, 5*time.Second, "")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := create(t, p, 500*time.Millisecond, tc.fault); !errors.Is(err, tc.want) {
				t.Fatalf("%s: error %v, want %v", tc.fault, err, tc.want)
			}
			next, err := create(t, p, 30*time.Second, "")
			if err != nil {
				t.Fatalf("after %s: %v", tc.fault, err)
			}
			if instanceOf(next) == instanceOf(first) {
				t.Errorf("after %s the same instance served", tc.fault)
			}
			mu.Lock()
			defer mu.Unlock()
			if prepared != 2 || p.Recoveries() != 1 {
				t.Errorf("prepared %d instances (want 2), %d recoveries (want 1)", prepared, p.Recoveries())
			}
		})
	}
}

// A guest's error reply is an answer: the instance is kept.
func TestPluginErrorKeepsInstance(t *testing.T) {
	p := newPlugin(t, "fault", cfg(t, nil), nil)
	first, _ := create(t, p, 5*time.Second, "")
	_, err := create(t, p, 5*time.Second, "error")
	var perr *wasm.PluginError
	if !errors.As(err, &perr) || perr.Message != "fault: requested error" {
		t.Fatalf("error %v, want the plugin's error", err)
	}
	next, _ := create(t, p, 5*time.Second, "")
	if instanceOf(next) != instanceOf(first) || p.Recoveries() != 0 {
		t.Errorf("instance replaced after an error reply")
	}
}

// The guest's env.log reaches the host's log, with its level.
func TestGuestLog(t *testing.T) {
	var buf testutil.Buffer
	p := newPlugin(t, "logger", cfg(t, &buf), nil)
	ctx := context.Background()
	if err := p.Call(ctx, wasm.Configure, &api.ConfigureRequest{}, &api.ConfigureResponse{}); err != nil {
		t.Fatal(err)
	}
	if err := p.Call(ctx, wasm.RunPodSandbox, &api.RunPodSandboxRequest{Pod: &api.PodSandbox{Name: "p", Namespace: "ns"}}, &api.RunPodSandboxResponse{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `level=INFO msg="RunPodSandbox pod=ns/p" source=env.log`) {
		t.Errorf("log:\n%s", buf.String())
	}
}

// A corrupt compilation cache entry is dropped and the module recompiled;
// caches of other wazero versions are removed.
func TestCacheRecovery(t *testing.T) {
	dir := t.TempDir()
	bin := read(t, "command")
	var buf testutil.Buffer
	c := wasm.NewConfig().WithEngine(wasm.Compiler).WithCacheDir(dir).WithLogger(slog.New(slog.NewTextHandler(&buf, nil)))
	if ok, why := wasm.CompilerSupported(); !ok {
		t.Skipf("the cache serves the compiler only, unavailable here: %s", why)
	}
	compile := func() {
		t.Helper()
		m, err := wasm.Compile(context.Background(), "command", bin, c)
		if err != nil {
			t.Fatal(err)
		}
		m.Close(context.Background())
	}
	compile()
	entries, _ := filepath.Glob(filepath.Join(dir, "*", "wazero-*", "*"))
	if len(entries) != 1 {
		t.Fatalf("cache entries after a compile: %v", entries)
	}
	// Another version's cache untouched for hours goes; one in use stays.
	stale := filepath.Join(filepath.Dir(filepath.Dir(entries[0])), "wazero-v0.0.1-amd64-linux")
	recent := filepath.Join(filepath.Dir(filepath.Dir(entries[0])), "wazero-v0.0.2-amd64-linux")
	for _, d := range []string{stale, recent} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if old := time.Now().Add(-2 * time.Hour); os.Chtimes(stale, old, old) != nil {
		t.Fatal("cannot age the stale cache")
	}
	if err := os.WriteFile(entries[0], []byte("corrupt"), 0o600); err != nil {
		t.Fatal(err)
	}
	compile()
	if !strings.Contains(buf.String(), "recompiling without it") {
		t.Errorf("corrupt entry not reported:\n%s", buf.String())
	}
	if _, err := os.Stat(entries[0]); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("corrupt cache entry kept (%v)", err)
	}
	compile() // fills the cache again
	if b, err := os.ReadFile(entries[0]); err != nil || string(b) == "corrupt" {
		t.Errorf("cache entry not rewritten (%v)", err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale cache %s kept", stale)
	}
	if _, err := os.Stat(recent); err != nil {
		t.Errorf("another version's recent cache removed: %v", err)
	}
}
