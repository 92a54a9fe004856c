package nri_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containerd/nri/pkg/api"

	"github.com/nriwasm/nriwasm/internal/config"
	"github.com/nriwasm/nriwasm/internal/testplugins"
	"github.com/nriwasm/nriwasm/internal/testutil"
	"github.com/nriwasm/nriwasm/nri"
	"github.com/nriwasm/nriwasm/nri/sim"
)

// waitTimeout bounds every wait in these tests; it is a hang detector, not a
// performance assertion.
const waitTimeout = 60 * time.Second

// logSink records every log record, rendered as one text line.
type logSink struct {
	mu    sync.Mutex
	lines []string
}

func (s *logSink) Enabled(context.Context, slog.Level) bool { return true }
func (s *logSink) WithGroup(string) slog.Handler            { return s }
func (s *logSink) WithAttrs(as []slog.Attr) slog.Handler    { return &attrSink{s, as} }
func (s *logSink) Handle(_ context.Context, r slog.Record) error {
	return s.handle(r, nil)
}

func (s *logSink) handle(r slog.Record, attrs []slog.Attr) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %q", r.Level, r.Message)
	for _, a := range attrs {
		fmt.Fprintf(&b, " %s=%q", a.Key, a.Value.String())
	}
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%q", a.Key, a.Value.String())
		return true
	})
	s.mu.Lock()
	s.lines = append(s.lines, b.String())
	s.mu.Unlock()
	return nil
}

type attrSink struct {
	s     *logSink
	attrs []slog.Attr
}

func (a *attrSink) Enabled(context.Context, slog.Level) bool { return true }
func (a *attrSink) WithGroup(string) slog.Handler            { return a }
func (a *attrSink) WithAttrs(as []slog.Attr) slog.Handler {
	return &attrSink{a.s, append(append([]slog.Attr(nil), a.attrs...), as...)}
}
func (a *attrSink) Handle(_ context.Context, r slog.Record) error { return a.s.handle(r, a.attrs) }

// matching returns the recorded lines that contain every one of parts.
func (s *logSink) matching(parts ...string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
next:
	for _, l := range s.lines {
		for _, p := range parts {
			if !strings.Contains(l, p) {
				continue next
			}
		}
		out = append(out, l)
	}
	return out
}

// env is one test's runtime and host.
type env struct {
	t    *testing.T
	rt   *sim.Runtime
	logs *logSink
	host *nri.Host
}

// spec is a plugin for the config, with the defaults of config.toml.
func spec(t testing.TB, index, name, wasm string, edit ...func(*config.Plugin)) config.Plugin {
	p := config.Plugin{
		Name: name, Index: index, Path: testplugins.Path(t, wasm),
		MemoryLimit: 64 << 20, Timeout: 2 * time.Second, OnError: config.Fail,
	}
	for _, e := range edit {
		e(&p)
	}
	return p
}

func withConfig(s string) func(*config.Plugin) { return func(p *config.Plugin) { p.Config = s } }
func ignoring(p *config.Plugin)                { p.OnError = config.Ignore }

// cacheDir is shared by every test: compiling a 10 MB Go guest takes
// seconds, loading it from the cache a fraction of one.
func cacheDir(t testing.TB) string {
	dir, err := os.UserCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "nriwasm-test-compilation")
}

// startRuntime serves a simulated runtime on a socket of the test's own.
func startRuntime(t *testing.T, opts ...sim.Option) *sim.Runtime {
	t.Helper()
	dir := testutil.ShortDir(t)
	rt, err := sim.Start(filepath.Join(dir, "nri.sock"), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rt.Stop)
	return rt
}

// startHost loads plugins and runs them against rt until the test ends, and
// waits until the runtime has them all.
func startHost(t *testing.T, rt *sim.Runtime, plugins ...config.Plugin) *env {
	t.Helper()
	e := &env{t: t, rt: rt, logs: &logSink{}}
	h, err := runHost(t, rt.Socket(), e.logs, plugins...)
	if err != nil {
		t.Fatal(err)
	}
	e.host = h
	e.waitPlugins(len(plugins))
	return e
}

// runHost loads plugins for socket and runs them until the test ends; the
// log goes to logs, and is printed if the test fails.
func runHost(t *testing.T, socket string, logs *logSink, plugins ...config.Plugin) (*nri.Host, error) {
	t.Helper()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("host log:\n%s", strings.Join(logs.matching(), "\n"))
		}
	})
	cfg := &config.Config{Socket: socket, Engine: "auto", CacheDir: cacheDir(t), Plugins: plugins,
		MemoryBudget: 1 << 30} // what a 32-bit arm process allows; one Go guest under the interpreter takes ~155 MiB of code
	h, err := nri.Load(context.Background(), cfg, nri.WithLogger(slog.New(logs)))
	if h == nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("host.Run: %v", err)
		}
	})
	return h, err
}

func (e *env) waitPlugins(n int) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := e.rt.WaitPlugins(ctx, n); err != nil {
		e.t.Fatal(err)
	}
}

// pod runs a new pod in the runtime.
func (e *env) pod(name string, annotations map[string]string) *api.PodSandbox {
	e.t.Helper()
	pod := e.rt.NewPod(name, "default", "", nil, annotations)
	if _, err := e.rt.Event(context.Background(), api.Event_RUN_POD_SANDBOX, pod, nil, nil); err != nil {
		e.t.Fatalf("RunPodSandbox: %v", err)
	}
	return pod
}

// create creates a container in pod and returns the runtime's merged
// response and error.
func (e *env) create(pod *api.PodSandbox, name string, annotations map[string]string) (*api.CreateContainerResponse, *api.Container, error) {
	ctr := e.rt.NewContainer(pod, name, []string{"/bin/" + name}, nil, nil, annotations)
	resp, err := e.rt.Event(context.Background(), api.Event_CREATE_CONTAINER, pod, ctr, nil)
	if err != nil {
		return nil, ctr, err
	}
	return resp.(*api.CreateContainerResponse), ctr, nil
}

// mustCreate is create that must succeed.
func (e *env) mustCreate(pod *api.PodSandbox, name string, annotations map[string]string) *api.CreateContainerResponse {
	e.t.Helper()
	resp, _, err := e.create(pod, name, annotations)
	if err != nil {
		e.t.Fatalf("CreateContainer %s: %v", name, err)
	}
	return resp
}

// envOf returns the environment an adjustment sets, as a map.
func envOf(resp *api.CreateContainerResponse) map[string]string {
	m := map[string]string{}
	for _, kv := range resp.GetAdjust().GetEnv() {
		m[kv.Key] = kv.Value
	}
	return m
}
