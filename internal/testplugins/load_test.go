package testplugins

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containerd/nri/pkg/api"
	"github.com/tetratelabs/wazero"
	wapi "github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"
)

// These tests load the plugins with wazero alone, not with the wasm package,
// so that they check the guests against the ABI rather than against nriwasm.

// memoryLimit bounds the guests' memory, so that "grow" fails fast. A Go
// guest needs ~128 pages to run.
const memoryLimit = 512

// wazeroRuntime compiles each plugin once per test binary, with wazero's
// file cache next to the plugins.
var wazeroRuntime = sync.OnceValues(func() (wazero.Runtime, error) {
	c, err := openCache()
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	cache, err := wazero.NewCompilationCacheWithDir(filepath.Join(c.dir, "wazero"))
	if err != nil {
		return nil, err
	}
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().
		WithCloseOnContextDone(true).
		WithMemoryLimitPages(memoryLimit).
		WithCompilationCache(cache))
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, r); err != nil {
		return nil, err
	}
	_, err = r.NewHostModuleBuilder("env").NewFunctionBuilder().
		WithFunc(hostLog).Export("log").Instantiate(ctx)
	return r, err
})

var compiled sync.Map // name -> wazero.CompiledModule

// logKey is the context key of the *[]string that collects env.log messages.
type logKey struct{}

// hostLog is env.log: (ptr, len of an api.LogRequest) -> an empty api.Empty.
func hostLog(ctx context.Context, m wapi.Module, ptr, size uint32) uint64 {
	var req api.LogRequest
	b, _ := m.Memory().Read(ptr, size)
	err := req.UnmarshalVT(b)
	msg := req.GetMsg()
	if err != nil {
		msg = "invalid LogRequest: " + err.Error()
	}
	if logs, ok := ctx.Value(logKey{}).(*[]string); ok {
		*logs = append(*logs, msg)
	}
	return 0
}

// instance is one instantiated plugin.
type instance struct {
	t     *testing.T
	mod   wapi.Module
	start string
	logs  []string
}

func instantiate(t *testing.T, name string) *instance {
	t.Helper()
	ctx := context.Background()
	r, err := wazeroRuntime()
	if err != nil {
		t.Fatal(err)
	}
	var cm wazero.CompiledModule
	if v, ok := compiled.Load(name); ok {
		cm = v.(wazero.CompiledModule)
	} else {
		b, err := os.ReadFile(Path(t, name))
		if err != nil {
			t.Fatal(err)
		}
		if cm, err = r.CompileModule(ctx, b); err != nil {
			t.Fatal(err)
		}
		compiled.Store(name, cm)
	}
	in := &instance{t: t, start: "_initialize"}
	if _, ok := cm.ExportedFunctions()[in.start]; !ok {
		in.start = "_start"
	}
	// Anonymous modules may be instantiated any number of times. Real
	// randomness lets instances of the fault guest differ.
	in.mod, err = r.InstantiateModule(ctx, cm, wazero.NewModuleConfig().
		WithName("").
		WithRandSource(rand.Reader).
		WithStartFunctions(in.start))
	if err != nil {
		t.Fatalf("%s: %v", in.start, err)
	}
	t.Cleanup(func() { in.mod.Close(ctx) })
	res, err := in.mod.ExportedFunction("plugin_api_version").Call(ctx)
	if err != nil || res[0] != 1 {
		t.Fatalf("plugin_api_version: %v, %v; want 1", res, err)
	}
	return in
}

type message interface {
	MarshalVT() ([]byte, error)
	UnmarshalVT([]byte) error
}

// guestError is an error string returned by a plugin.
type guestError string

func (e guestError) Error() string { return string(e) }

// call calls export with req, decodes the reply into resp and frees it. A
// trap or an exit is returned as wazero reports it.
func (in *instance) call(ctx context.Context, export string, req, resp message) error {
	in.t.Helper()
	b, err := req.MarshalVT()
	if err != nil {
		in.t.Fatal(err)
	}
	var ptr uint64
	if len(b) > 0 {
		res, err := in.mod.ExportedFunction("malloc").Call(ctx, uint64(len(b)))
		if err != nil || !in.mod.Memory().Write(uint32(res[0]), b) {
			in.t.Fatalf("malloc(%d): %v, %v", len(b), res, err)
		}
		ptr = res[0]
		defer in.mod.ExportedFunction("free").Call(ctx, ptr)
	}
	fn := in.mod.ExportedFunction(export)
	if fn == nil {
		in.t.Fatalf("%s is not exported", export)
	}
	res, err := fn.Call(context.WithValue(ctx, logKey{}, &in.logs), ptr, uint64(len(b)))
	if err != nil {
		return err
	}
	rptr, size := uint32(res[0]>>32), uint32(res[0])
	out, ok := in.mod.Memory().Read(rptr, size&^(1<<31))
	if !ok {
		in.t.Fatalf("%s returned [%#x, +%d), outside memory", export, rptr, size)
	}
	if size&(1<<31) != 0 {
		err = guestError(out)
	} else if err := resp.UnmarshalVT(out); err != nil {
		in.t.Fatalf("%s: decoding the reply: %v", export, err)
	}
	if _, ferr := in.mod.ExportedFunction("free").Call(ctx, uint64(rptr)); ferr != nil {
		in.t.Fatalf("free: %v", ferr)
	}
	return err
}

func (in *instance) configure(config string) (api.EventMask, error) {
	var resp api.ConfigureResponse
	err := in.call(context.Background(), "plugin_configure", &api.ConfigureRequest{Config: config, RuntimeName: "test"}, &resp)
	return api.EventMask(resp.GetEvents()), err
}

// create calls CreateContainer for container app of pod ns/web.
func (in *instance) create(ctx context.Context, podAnnotations, annotations map[string]string) (*api.ContainerAdjustment, error) {
	var resp api.CreateContainerResponse
	err := in.call(ctx, "plugin_create_container", &api.CreateContainerRequest{
		Pod:       &api.PodSandbox{Namespace: "ns", Name: "web", Annotations: podAnnotations},
		Container: &api.Container{Name: "app", Annotations: annotations},
	}, &resp)
	return resp.GetAdjust(), err
}

func env(a *api.ContainerAdjustment) map[string]string {
	m := map[string]string{}
	for _, kv := range a.GetEnv() {
		m[kv.GetKey()] = kv.GetValue()
	}
	return m
}

func mask(events ...api.Event) (m api.EventMask) {
	m.Set(events...)
	return m
}

var lifecycle = api.ValidEvents &^ mask(api.Event_VALIDATE_CONTAINER_ADJUSTMENT)

func TestGuests(t *testing.T) {
	for _, tc := range []struct {
		name, start string
		config      string
		events      api.EventMask
		check       func(t *testing.T, in *instance)
	}{
		{"logger", "_initialize", "", lifecycle, checkLogger},
		{"injector", "_initialize", "", mask(api.Event_CREATE_CONTAINER), checkInjector},
		{"cinjector", "_initialize", "", mask(api.Event_CREATE_CONTAINER), checkInjector},
		{"ulimit", "_initialize", "", mask(api.Event_CREATE_CONTAINER), checkUlimit},
		{"fault", "_initialize", "cfg", mask(api.Event_CREATE_CONTAINER), checkFault},
		{"v010", "_initialize", "", mask(api.Event_CREATE_CONTAINER,
			api.Event_RUN_POD_SANDBOX, api.Event_POST_UPDATE_POD_SANDBOX, api.Event_STOP_POD_SANDBOX,
			api.Event_REMOVE_POD_SANDBOX, api.Event_POST_CREATE_CONTAINER, api.Event_START_CONTAINER,
			api.Event_POST_START_CONTAINER, api.Event_POST_UPDATE_CONTAINER, api.Event_REMOVE_CONTAINER), checkV010},
		{"command", "_start", "", mask(api.Event_CREATE_CONTAINER), checkCommand},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := instantiate(t, tc.name)
			if in.start != tc.start {
				t.Errorf("start function %s, want %s", in.start, tc.start)
			}
			events, err := in.configure(tc.config)
			if err != nil {
				t.Fatalf("Configure: %v", err)
			}
			if events != tc.events {
				t.Errorf("events %s, want %s", events.PrettyString(), tc.events.PrettyString())
			}
			tc.check(t, in)
		})
	}
}

func checkLogger(t *testing.T, in *instance) {
	ctx := context.Background()
	if _, err := in.create(ctx, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := in.call(ctx, "plugin_stop_pod_sandbox", &api.StopPodSandboxRequest{
		Pod: &api.PodSandbox{Namespace: "ns", Name: "web"}}, &api.StopPodSandboxResponse{}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"CreateContainer pod=ns/web container=app", "StopPodSandbox pod=ns/web"}; !reflect.DeepEqual(in.logs, want) {
		t.Errorf("logged %q, want %q", in.logs, want)
	}
	events, err := in.configure("StopContainer")
	if err != nil || events != mask(api.Event_STOP_CONTAINER) {
		t.Errorf("Configure(StopContainer): %s, %v", events.PrettyString(), err)
	}
	if _, err := in.configure("CreateContainer,Bogus"); err == nil || !strings.HasPrefix(err.Error(), `logger: unknown event "Bogus" in config`) {
		t.Errorf("Configure with a bad event: %v", err)
	}
}

// checkInjector runs the parser's test cases through the compiled plugin.
func checkInjector(t *testing.T, in *instance) {
	c, err := openCache()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(c.src, "internal/inject/testdata/configs.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Name, Config, Error string
		Env, Annotations    [][2]string
	}
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		_, err := in.configure(tc.Config)
		if tc.Error != "" {
			if err == nil || err.Error() != tc.Error {
				t.Errorf("%s: error:\n got %v\nwant %s", tc.Name, err, tc.Error)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.Name, err)
			continue
		}
		a, err := in.create(context.Background(), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		var gotEnv [][2]string
		for _, kv := range a.GetEnv() {
			gotEnv = append(gotEnv, [2]string{kv.GetKey(), kv.GetValue()})
		}
		wantAnnotations := map[string]string{}
		for _, kv := range tc.Annotations {
			wantAnnotations[kv[0]] = kv[1]
		}
		if !slices.Equal(gotEnv, tc.Env) || !maps.Equal(a.GetAnnotations(), wantAnnotations) {
			t.Errorf("%s: got env %q annotations %q, want %q %q", tc.Name, gotEnv, a.GetAnnotations(), tc.Env, wantAnnotations)
		}
	}
}

func checkUlimit(t *testing.T, in *instance) {
	ctx := context.Background()
	a, err := in.create(ctx, map[string]string{"ulimits.noderesource.dev/container.app": "- type: nofile\n  soft: 1\n  hard: 2"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r := a.GetRlimits(); len(r) != 1 || r[0].GetType() != "RLIMIT_NOFILE" || r[0].GetSoft() != 1 || r[0].GetHard() != 2 {
		t.Errorf("rlimits %v", r)
	}
	_, err = in.create(ctx, map[string]string{"ulimits.noderesource.dev/pod": "- type: bogus"}, nil)
	if _, ok := err.(guestError); !ok || !strings.HasPrefix(err.Error(), `ulimit: invalid annotation "ulimits.noderesource.dev/pod": line 1: unknown rlimit type "bogus"`) {
		t.Errorf("invalid annotation: %v", err)
	}
}

func checkFault(t *testing.T, in *instance) {
	ctx := context.Background()
	for _, sync := range []*api.SynchronizeRequest{
		{Pods: make([]*api.PodSandbox, 2), More: true},
		{Pods: make([]*api.PodSandbox, 1), Containers: make([]*api.Container, 3)},
	} {
		var resp api.SynchronizeResponse
		if err := in.call(ctx, "plugin_synchronize", sync, &resp); err != nil || resp.GetMore() != sync.GetMore() {
			t.Fatalf("Synchronize: %v, More %v; want More %v", err, resp.GetMore(), sync.GetMore())
		}
	}
	var id string
	for i := range 2 {
		a, err := in.create(ctx, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		got := env(a)
		id = got["FAULT_INSTANCE"]
		want := map[string]string{"FAULT_CONFIG": "cfg", "FAULT_SYNC_PODS": "3", "FAULT_SYNC_CONTAINERS": "3",
			"FAULT_CREATES": fmt.Sprint(i + 1), "FAULT_INSTANCE": id}
		if len(id) != 16 || !reflect.DeepEqual(got, want) {
			t.Errorf("env %v, want %v with a 16-digit FAULT_INSTANCE", got, want)
		}
	}
	if _, err := in.create(ctx, nil, map[string]string{"fault.nriwasm.test/create": "error"}); err != guestError("fault: requested error") {
		t.Errorf("error: got %v", err)
	}

	// Faults that end the instance, each on a fresh one. A Go guest turns a
	// panic or a fatal error into the trap "unreachable", which leaves the
	// module open; an exit or a deadline closes it.
	for _, tc := range []struct {
		fault   string
		timeout time.Duration
		exit    uint32 // 0 for the trap
	}{
		{"exit", time.Minute, 3},
		{"trap", time.Minute, 0},
		{"grow", time.Minute, 0}, // fatal error: out of memory
		{"spin", 200 * time.Millisecond, sys.ExitCodeDeadlineExceeded},
	} {
		in := instantiate(t, "fault")
		if _, err := in.configure(""); err != nil {
			t.Fatal(err)
		}
		deadline, cancel := context.WithTimeout(ctx, tc.timeout)
		_, err := in.create(deadline, nil, map[string]string{"fault.nriwasm.test/create": tc.fault})
		cancel()
		var exit *sys.ExitError
		switch {
		case tc.exit == 0 && (err == nil || !strings.Contains(err.Error(), "wasm error: unreachable")):
			t.Errorf("%s: got %v, want the trap unreachable", tc.fault, err)
		case tc.exit != 0 && (!errors.As(err, &exit) || exit.ExitCode() != tc.exit || !in.mod.IsClosed()):
			t.Errorf("%s: got %v, want exit code %d and a closed module", tc.fault, err, tc.exit)
		}
		a, _ := instantiate(t, "fault").create(ctx, nil, nil)
		if env(a)["FAULT_INSTANCE"] == id {
			t.Errorf("two instances share FAULT_INSTANCE %s", id)
		}
	}
}

func checkV010(t *testing.T, in *instance) {
	ctx := context.Background()
	for _, export := range []string{"plugin_start_container", "plugin_run_pod_sandbox", "plugin_remove_container"} {
		if in.mod.ExportedFunction(export) != nil {
			t.Errorf("a v0.10 guest exports %s", export)
		}
	}
	if err := in.call(ctx, "plugin_state_change", &api.StateChangeEvent{
		Event:     api.Event_START_CONTAINER,
		Pod:       &api.PodSandbox{Namespace: "ns", Name: "web"},
		Container: &api.Container{Name: "app"},
	}, &api.Empty{}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"StateChange START_CONTAINER pod=ns/web container=app"}; !reflect.DeepEqual(in.logs, want) {
		t.Errorf("logged %q, want %q", in.logs, want)
	}
	a, err := in.create(ctx, nil, nil)
	if err != nil || !reflect.DeepEqual(env(a), map[string]string{"V010": "1"}) {
		t.Errorf("CreateContainer: %v, %v; want V010=1", a, err)
	}
}

func checkCommand(t *testing.T, in *instance) {
	if in.mod.ExportedFunction("_initialize") != nil {
		t.Error("exports _initialize")
	}
	a, err := in.create(context.Background(), nil, nil)
	if err != nil || !reflect.DeepEqual(env(a), map[string]string{"WAT": "1"}) {
		t.Errorf("CreateContainer: %v, %v; want WAT=1", a, err)
	}
}
