//go:build bench

// Package bench measures nriwasm against the floor, a native NRI plugin, all
// rows in one run: `make bench` runs it and writes out/bench.md. The runtime
// is containerd's own NRI library (pkg/adaptation) serving a real socket, in
// this process; so are the native plugin and nriwasm's host for the latency
// rows (start-up and memory rows run the nriwasm binary).
package bench

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/containerd/nri/pkg/api"
	"github.com/containerd/nri/pkg/stub"

	"github.com/nriwasm/nriwasm/internal/config"
	"github.com/nriwasm/nriwasm/internal/testplugins"
	"github.com/nriwasm/nriwasm/internal/testutil"
	"github.com/nriwasm/nriwasm/nri"
	"github.com/nriwasm/nriwasm/nri/sim"
)

// The injector's demo config and the native plugin's equivalent.
const (
	injectorConfig = "env NRIWASM_INJECTED=true\nannotation nriwasm.dev/injected-by=injector\n"
	samples        = 3000
)

type report struct{ b strings.Builder }

func (r *report) printf(format string, args ...any) { fmt.Fprintf(&r.b, format, args...) }

func TestBench(t *testing.T) {
	nri.SetLibraryLogger(slog.New(slog.DiscardHandler))
	var r report
	host, _ := os.Hostname()
	r.printf("Measured %s on %s/%s, %d CPUs (%s), Go %s.\n\n", time.Now().UTC().Format("2006-01-02"), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), host, runtime.Version())
	latency(t, &r)
	throughput(t, &r)
	synchronize(t, &r)
	startup(t, &r)
	memory(t, &r)
	t.Log("\n" + r.b.String())
	if out := os.Getenv("NRIWASM_BENCH_OUT"); out != "" {
		if err := os.WriteFile(out, []byte(r.b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// runtimeAt starts a simulated runtime on a fresh short socket path.
func runtimeAt(t *testing.T, opts ...sim.Option) *sim.Runtime {
	t.Helper()
	rt, err := sim.Start(filepath.Join(testutil.ShortDir(t), "nri.sock"), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rt.Stop)
	return rt
}

func cacheDir(t *testing.T) string {
	dir, err := os.UserCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "nriwasm-bench")
}

// host runs nriwasm's host in this process for plugins on rt, until the test
// ends, and waits until the runtime has them.
func host(t *testing.T, rt *sim.Runtime, engine string, plugins ...config.Plugin) {
	t.Helper()
	cfg := &config.Config{Socket: rt.Socket(), Engine: engine, CacheDir: cacheDir(t), Plugins: plugins, MemoryBudget: 1 << 30}
	h, err := nri.Load(context.Background(), cfg, nri.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	wait(t, rt, len(plugins))
}

func wait(t *testing.T, rt *sim.Runtime, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := rt.WaitPlugins(ctx, n); err != nil {
		t.Fatal(err)
	}
}

func plugin(t *testing.T, index int, wasm, cfg string) config.Plugin {
	return config.Plugin{Name: "p" + strconv.Itoa(index), Index: fmt.Sprintf("%02d", index), Path: testplugins.Path(t, wasm),
		MemoryLimit: 64 << 20, Timeout: 2 * time.Second, OnError: config.Fail, Config: cfg}
}

// native is the floor: a pkg/stub plugin that makes the injector's
// adjustment.
type native struct{}

func (native) CreateContainer(context.Context, *api.PodSandbox, *api.Container) (*api.ContainerAdjustment, []*api.ContainerUpdate, error) {
	a := &api.ContainerAdjustment{}
	a.AddEnv("NRIWASM_INJECTED", "true")
	a.AddAnnotation("nriwasm.dev/injected-by", "injector")
	return a, nil, nil
}

func startNative(t *testing.T, rt *sim.Runtime) {
	s, err := stub.New(native{}, stub.WithSocketPath(rt.Socket()), stub.WithPluginName("native"), stub.WithPluginIdx("20"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	wait(t, rt, 1)
}

// creates times n CreateContainer round trips through the runtime and
// checks the injection reached the result.
func creates(t *testing.T, rt *sim.Runtime, n int) []time.Duration {
	t.Helper()
	ctx := context.Background()
	pod := rt.NewPod("bench", "default", "", nil, nil)
	if _, err := rt.Event(ctx, api.Event_RUN_POD_SANDBOX, pod, nil, nil); err != nil {
		t.Fatal(err)
	}
	d := make([]time.Duration, 0, n)
	for i := range n {
		ctr := rt.NewContainer(pod, "c"+strconv.Itoa(i), nil, nil, nil, nil)
		start := time.Now()
		resp, err := rt.Event(ctx, api.Event_CREATE_CONTAINER, pod, ctr, nil)
		d = append(d, time.Since(start))
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.(*api.CreateContainerResponse).GetAdjust().GetEnv()) == 0 {
			t.Fatal("no adjustment")
		}
		// Keep the runtime's state small: removal is not timed.
		if _, err := rt.Event(ctx, api.Event_REMOVE_CONTAINER, pod, ctr, nil); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

func percentile(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[int(float64(len(s)-1)*p)]
}

func us(d time.Duration) string { return fmt.Sprintf("%.0f us", float64(d.Nanoseconds())/1000) }

func latency(t *testing.T, r *report) {
	type row struct {
		name  string
		setup func(*testing.T, *sim.Runtime)
		opts  func(*testing.T) []sim.Option
	}
	wasmHost := func(engine, guest string) func(*testing.T, *sim.Runtime) {
		return func(t *testing.T, rt *sim.Runtime) { host(t, rt, engine, plugin(t, 20, guest, injectorConfig)) }
	}
	rows := []row{
		{name: "(a) native pkg/stub plugin (floor)", setup: startNative},
		{name: "(b) nriwasm, Go injector, compiler", setup: wasmHost("compiler", "injector")},
		{name: "(c) nriwasm, Go injector, interpreter", setup: wasmHost("interpreter", "injector")},
		{name: "(d) nriwasm, C injector, compiler", setup: wasmHost("compiler", "cinjector")},
		{name: "(d) nriwasm, C injector, interpreter", setup: wasmHost("interpreter", "cinjector")},
		{name: "(e) Go injector in-runtime (pkg/adaptation)", opts: inRuntime},
	}
	r.printf("## CreateContainer round trip\n\n%d calls each, after 200 warm-up calls; the runtime's merged result is checked on every call.\n\n", samples)
	r.printf("| plugin | p50 | p99 | p50 / (a) |\n|---|---|---|---|\n")
	var floor time.Duration
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			var opts []sim.Option
			if row.opts != nil {
				opts = row.opts(t)
			}
			rt := runtimeAt(t, opts...)
			if row.setup != nil {
				row.setup(t, rt)
			}
			creates(t, rt, 200)
			d := creates(t, rt, samples)
			p50, p99 := percentile(d, 0.5), percentile(d, 0.99)
			if floor == 0 {
				floor = p50
			}
			r.printf("| %s | %s | %s | %.2f |\n", row.name, us(p50), us(p99), float64(p50)/float64(floor))
		})
	}
	r.printf("\n")
}

// inRuntime puts the injector in the runtime's plugin path, where
// pkg/adaptation loads Wasm plugins itself.
func inRuntime(t *testing.T) []sim.Option {
	dir := t.TempDir()
	b, err := os.ReadFile(testplugins.Path(t, "injector"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "20-injector"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "20-injector.conf"), []byte(injectorConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	return []sim.Option{sim.Launching(dir, dir)}
}

func throughput(t *testing.T, r *report) {
	r.printf("## Throughput\n\nCreateContainer (plus an untimed RemoveContainer) in a loop for 2 s; each plugin injects its own variable.\n\n")
	r.printf("| plugins | events/s |\n|---|---|\n")
	for _, tc := range []struct {
		guest string
		n     int
	}{{"injector", 1}, {"injector", 3}, {"cinjector", 1}, {"cinjector", 3}, {"cinjector", 10}} {
		t.Run(fmt.Sprintf("%s-%d", tc.guest, tc.n), func(t *testing.T) {
			rt := runtimeAt(t)
			var ps []config.Plugin
			for i := range tc.n {
				ps = append(ps, plugin(t, 10+i, tc.guest, fmt.Sprintf("env K%d=v\n", i)))
			}
			host(t, rt, "auto", ps...)
			creates(t, rt, 100)
			start, n := time.Now(), 0
			for time.Since(start) < 2*time.Second {
				creates(t, rt, 50)
				n += 50
			}
			r.printf("| %d x %s | %.0f |\n", tc.n, tc.guest, float64(n)/time.Since(start).Seconds())
		})
	}
	r.printf("\n")
}

func synchronize(t *testing.T, r *report) {
	r.printf("## Synchronize\n\nTime from the host's start to the plugin registered and synchronized (Go injector, compiled code cached), with the runtime already holding N containers (10 per pod, 1 KiB of annotations each: 5000 take more than one 4 MiB message).\n\n")
	r.printf("| containers | registered and synchronized |\n|---|---|\n")
	for _, n := range []int{100, 1000, 5000} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			rt := runtimeAt(t)
			big := strings.Repeat("x", 1024)
			for p := range n / 10 {
				pod := rt.NewPod("p"+strconv.Itoa(p), "default", "", nil, nil)
				var ctrs []*api.Container
				for c := range 10 {
					ctrs = append(ctrs, rt.NewContainer(pod, "c"+strconv.Itoa(c), nil, nil, nil, map[string]string{"a": big}))
				}
				rt.Add([]*api.PodSandbox{pod}, ctrs)
			}
			start := time.Now()
			host(t, rt, "auto", plugin(t, 20, "injector", injectorConfig))
			r.printf("| %d | %.0f ms |\n", n, float64(time.Since(start).Microseconds())/1000)
		})
	}
	r.printf("\n")
}

// binary builds nriwasm once for the start-up and memory rows.
func binary(t *testing.T) string {
	bin := filepath.Join(t.TempDir(), "nriwasm")
	build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "../..")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// daemon starts `nriwasm run` for one plugin against rt and returns once the
// runtime has it, with the time that took.
func daemon(t *testing.T, bin string, rt *sim.Runtime, guest, engine, cache string) (*exec.Cmd, time.Duration) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "etc")
	for _, d := range []string{dir, filepath.Join(dir, "plugins")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(testplugins.Path(t, guest))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "plugins", "20-injector.wasm"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf("socket = %q\nplugin_dir = %q\ncache_dir = %q\nengine = %q\nlog_level = \"warn\"\n[defaults]\nconfig = %q\n",
		rt.Socket(), filepath.Join(dir, "plugins"), cache, engine, injectorConfig)
	if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	cmd := exec.Command(bin, "run", "-config", filepath.Join(dir, "config.toml"))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	wait(t, rt, 1)
	return cmd, time.Since(start)
}

func startup(t *testing.T, r *report) {
	bin := binary(t)
	r.printf("## Start-up\n\nProcess start to the plugin registered and synchronized with the runtime (`nriwasm run`, one plugin). Cold: empty compilation cache; warm: the cache a previous start filled. The interpreter has no cache.\n\n")
	r.printf("| plugin | engine | cold | warm |\n|---|---|---|---|\n")
	for _, tc := range []struct{ guest, engine string }{
		{"injector", "compiler"}, {"injector", "interpreter"}, {"cinjector", "compiler"}, {"cinjector", "interpreter"},
	} {
		t.Run(tc.guest+"-"+tc.engine, func(t *testing.T) {
			cache := t.TempDir()
			times := make([]time.Duration, 2)
			for i := range times {
				rt := runtimeAt(t)
				cmd, d := daemon(t, bin, rt, tc.guest, tc.engine, cache)
				times[i] = d
				cmd.Process.Kill()
				cmd.Wait()
				rt.Stop()
			}
			r.printf("| %s | %s | %.2f s | %.2f s |\n", tc.guest, tc.engine, times[0].Seconds(), times[1].Seconds())
		})
	}
	r.printf("\n")
}

func memory(t *testing.T, r *report) {
	bin := binary(t)
	r.printf("## Memory\n\n`nriwasm run` resident set (VmRSS) after start, after 20k CreateContainer + RemoveContainer pairs (a Go guest's heap, and the host's, take about that many to reach their working size) and after 10k more.\n\n")
	r.printf("| plugin | after start | after 20k events | after 30k events |\n|---|---|---|---|\n")
	for _, guest := range []string{"injector", "cinjector"} {
		t.Run(guest, func(t *testing.T) {
			rt := runtimeAt(t)
			cmd, _ := daemon(t, bin, rt, guest, "auto", cacheDir(t))
			start := testutil.ProcStatus(t, cmd.Process.Pid, "VmRSS")
			creates(t, rt, 20000)
			warm := testutil.ProcStatus(t, cmd.Process.Pid, "VmRSS")
			creates(t, rt, 10000)
			r.printf("| %s | %.1f MiB | %.1f MiB | %.1f MiB |\n", guest, mib(start), mib(warm), mib(testutil.ProcStatus(t, cmd.Process.Pid, "VmRSS")))
		})
	}
	r.printf("\n")
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }
