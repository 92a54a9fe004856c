package nri_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/containerd/nri/pkg/api"

	"github.com/nriwasm/nriwasm/internal/testutil"
	"github.com/nriwasm/nriwasm/nri"
	"github.com/nriwasm/nriwasm/nri/sim"
)

const faultKey = "fault.nriwasm.test/create"

// Every lifecycle event of a pod reaches a plugin subscribed to all of them,
// once, in the runtime's order.
func TestEveryEventDelivered(t *testing.T) {
	e := startHost(t, startRuntime(t), spec(t, "10", "logger", "logger"))
	var steps []sim.Step
	if err := e.rt.Replay(context.Background(), sim.DefaultScenario(), func(s sim.Step) { steps = append(steps, s) }); err != nil {
		t.Fatal(err)
	}
	lines := e.logs.matching(`source="env.log"`)
	if len(lines) != len(steps) {
		t.Fatalf("logger logged %d events, the runtime sent %d:\n%s", len(lines), len(steps), strings.Join(lines, "\n"))
	}
	for i, s := range steps {
		if s.Err != nil {
			t.Errorf("%s: %v", s.Event.PrettyName(), s.Err)
		}
		want := fmt.Sprintf("%q", s.Event.PrettyName()+" pod=default/demo")
		if s.Container != nil {
			want = fmt.Sprintf("%q", s.Event.PrettyName()+" pod=default/demo container="+s.Container.Name)
		}
		if !strings.Contains(lines[i], want) {
			t.Errorf("event %d: logger logged %s, want %s", i, lines[i], want)
		}
	}
}

// The adjustments of the example plugins show in the runtime's result.
func TestAdjustmentsInResult(t *testing.T) {
	e := startHost(t, startRuntime(t),
		spec(t, "20", "injector", "injector", withConfig("env FOO=bar\nannotation example.com/by=injector")),
		spec(t, "30", "ulimit", "ulimit"))
	pod := e.pod("web", map[string]string{
		"ulimits.noderesource.dev/container.app": "- type: nofile\n  soft: 512\n  hard: 1024\n",
	})
	resp := e.mustCreate(pod, "app", nil)
	if got := envOf(resp)["FOO"]; got != "bar" {
		t.Errorf("env FOO = %q, want bar (adjustment %v)", got, resp.Adjust)
	}
	if got := resp.Adjust.GetAnnotations()["example.com/by"]; got != "injector" {
		t.Errorf("annotation = %q, want injector", got)
	}
	rl := resp.Adjust.GetRlimits()
	if len(rl) != 1 || rl[0].Type != "RLIMIT_NOFILE" || rl[0].Soft != 512 || rl[0].Hard != 1024 {
		t.Errorf("rlimits = %v, want RLIMIT_NOFILE 512/1024", rl)
	}
	// The ulimit annotation names only "app".
	if rl := e.mustCreate(pod, "other", nil).Adjust.GetRlimits(); len(rl) != 0 {
		t.Errorf("container without annotation got rlimits %v", rl)
	}
}

// The runtime calls plugins in index order, whatever order they are
// configured or connect in.
func TestIndexOrder(t *testing.T) {
	for _, tc := range []struct{ first, second string }{{"10", "20"}, {"20", "10"}} {
		t.Run(tc.first+"-then-"+tc.second, func(t *testing.T) {
			e := startHost(t, startRuntime(t),
				spec(t, tc.first, "alpha", "logger", withConfig("CreateContainer")),
				spec(t, tc.second, "beta", "logger", withConfig("CreateContainer")))
			e.mustCreate(e.pod("p", nil), "c", nil)
			lines := e.logs.matching(`source="env.log"`, "CreateContainer")
			want := []string{"alpha", "beta"}
			if tc.first > tc.second {
				want = []string{"beta", "alpha"}
			}
			if len(lines) != 2 || !strings.Contains(lines[0], want[0]) || !strings.Contains(lines[1], want[1]) {
				t.Fatalf("call order:\n%s\nwant %v", strings.Join(lines, "\n"), want)
			}
		})
	}
}

// Two plugins setting the same environment variable: the runtime refuses
// the container and names both, as it does for native plugins.
func TestConflictNamesBoth(t *testing.T) {
	e := startHost(t, startRuntime(t),
		spec(t, "10", "first", "injector", withConfig("env SAME=1")),
		spec(t, "20", "second", "injector", withConfig("env SAME=2")))
	_, _, err := e.create(e.pod("p", nil), "c", nil)
	if err == nil {
		t.Fatal("conflicting plugins: container created")
	}
	for _, want := range []string{"first", "second", "SAME"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
}

// on_error decides what the runtime sees when a plugin fails, for every way
// a plugin can fail.
func TestOnError(t *testing.T) {
	for _, fault := range []string{"trap", "spin", "exit", "error"} {
		t.Run(fault+"/fail", func(t *testing.T) {
			e := startHost(t, startRuntime(t), spec(t, "10", "faulty", "fault"))
			_, _, err := e.create(e.pod("p", nil), "c", map[string]string{faultKey: fault})
			if err == nil || !strings.Contains(err.Error(), "10-faulty") {
				t.Fatalf("CreateContainer error = %v, want one naming 10-faulty", err)
			}
			if len(e.logs.matching("on_error = fail", "10-faulty")) == 0 {
				t.Errorf("failure not logged with the plugin's name:\n%s", strings.Join(e.logs.matching(""), "\n"))
			}
		})
		t.Run(fault+"/ignore", func(t *testing.T) {
			e := startHost(t, startRuntime(t), spec(t, "10", "faulty", "fault", ignoring))
			resp, _, err := e.create(e.pod("p", nil), "c", map[string]string{faultKey: fault})
			if err != nil {
				t.Fatalf("CreateContainer with on_error = ignore: %v", err)
			}
			if env := envOf(resp); len(env) != 0 {
				t.Errorf("failed plugin's adjustment reached the runtime: %v", env)
			}
			if len(e.logs.matching("on_error = ignore", "10-faulty")) == 0 {
				t.Errorf("failure not logged with the plugin's name")
			}
		})
	}
}

// After a trap or a deadline the next event is served by a fresh instance
// that was configured and synchronized with the runtime's current state.
func TestRecoveryResyncs(t *testing.T) {
	for _, fault := range []string{"trap", "spin", "exit"} {
		t.Run(fault, func(t *testing.T) {
			rt := startRuntime(t)
			// State from before the plugin connected: it arrives by Synchronize.
			old := rt.NewPod("old", "default", "", nil, nil)
			rt.Add([]*api.PodSandbox{old}, []*api.Container{rt.NewContainer(old, "a", nil, nil, nil, nil), rt.NewContainer(old, "b", nil, nil, nil, nil)})
			e := startHost(t, rt, spec(t, "10", "faulty", "fault", withConfig("cfg-1")))
			pod := e.pod("p", nil)
			before := envOf(e.mustCreate(pod, "c1", nil))
			if before["FAULT_SYNC_CONTAINERS"] != "2" || before["FAULT_CONFIG"] != "cfg-1" {
				t.Fatalf("first instance: %v", before)
			}
			if _, _, err := e.create(pod, "c2", map[string]string{faultKey: fault}); err == nil {
				t.Fatalf("%s: CreateContainer succeeded", fault)
			}
			after := envOf(e.mustCreate(pod, "c3", nil))
			want := map[string]string{
				"FAULT_CONFIG":          "cfg-1",
				"FAULT_SYNC_PODS":       "2", // old and p
				"FAULT_SYNC_CONTAINERS": "3", // a, b and c1; c2 was refused
				"FAULT_CREATES":         "1",
			}
			for k, v := range want {
				if after[k] != v {
					t.Errorf("fresh instance: %s = %q, want %q (all: %v)", k, after[k], v, after)
				}
			}
			if after["FAULT_INSTANCE"] == before["FAULT_INSTANCE"] {
				t.Errorf("the failed instance served again (instance %s)", after["FAULT_INSTANCE"])
			}
			if n := e.host.Registrations()[0].Plugin().Recoveries(); n != 1 {
				t.Errorf("recoveries = %d, want 1", n)
			}
		})
	}
}

// A plugin error is an answer, not a failure: the instance is kept.
func TestPluginErrorKeepsInstance(t *testing.T) {
	e := startHost(t, startRuntime(t), spec(t, "10", "faulty", "fault"))
	pod := e.pod("p", nil)
	first := envOf(e.mustCreate(pod, "c1", nil))
	if _, _, err := e.create(pod, "c2", map[string]string{faultKey: "error"}); err == nil || !strings.Contains(err.Error(), "fault: requested error") {
		t.Fatalf("error = %v, want the plugin's message", err)
	}
	next := envOf(e.mustCreate(pod, "c3", nil))
	if next["FAULT_INSTANCE"] != first["FAULT_INSTANCE"] || next["FAULT_CREATES"] != "3" {
		t.Errorf("instance replaced after a plugin error: before %v, after %v", first, next)
	}
}

// A restarted runtime gets every plugin back without the process
// restarting, each with a fresh instance synchronized with the new runtime.
func TestRuntimeRestartReconnects(t *testing.T) {
	rt := startRuntime(t, sim.Restartable())
	e := startHost(t, rt, spec(t, "10", "faulty", "fault"), spec(t, "20", "injector", "injector", withConfig("env INJECTED=yes")))
	pod := e.pod("p", nil)
	before := envOf(e.mustCreate(pod, "c1", nil))
	for i := range 3 {
		if err := rt.Restart(); err != nil {
			t.Fatal(err)
		}
		e.waitPlugins(2)
		got := envOf(e.mustCreate(pod, "after-"+strconv.Itoa(i), nil))
		if got["INJECTED"] != "yes" || got["FAULT_CREATES"] != "1" || got["FAULT_INSTANCE"] == before["FAULT_INSTANCE"] {
			t.Fatalf("after restart %d: %v", i+1, got)
		}
		if want := strconv.Itoa(1 + i); got["FAULT_SYNC_CONTAINERS"] != want {
			t.Errorf("after restart %d: synchronized %s containers, want %s", i+1, got["FAULT_SYNC_CONTAINERS"], want)
		}
		before = got
	}
}

// A state larger than one ttrpc message reaches the plugin in chunks
// (More) and the guest sees it whole.
func TestSplitSynchronize(t *testing.T) {
	rt := startRuntime(t)
	big := strings.Repeat("x", 2048)
	// ~6 MB, above ttrpc's 4 MiB message limit. Many pods: pkg/adaptation
	// v0.12.5 scales the pods per chunk down with the containers and, from
	// one pod, to zero pods per chunk, which never ends.
	for p := range 100 {
		pod := rt.NewPod("pod"+strconv.Itoa(p), "default", "", nil, nil)
		var ctrs []*api.Container
		for c := range 30 {
			ctrs = append(ctrs, rt.NewContainer(pod, "c"+strconv.Itoa(c), nil, nil, nil, map[string]string{"big": big}))
		}
		rt.Add([]*api.PodSandbox{pod}, ctrs)
	}
	e := startHost(t, rt, spec(t, "10", "faulty", "fault"))
	got := envOf(e.mustCreate(e.pod("new", nil), "new", nil))
	if got["FAULT_SYNC_CONTAINERS"] != "3000" || got["FAULT_SYNC_PODS"] != "100" {
		t.Fatalf("guest synchronized with %s pods, %s containers; want 100, 3000", got["FAULT_SYNC_PODS"], got["FAULT_SYNC_CONTAINERS"])
	}
	if n := len(e.logs.matching(`"synchronized"`, `containers="3000"`)); n != 1 {
		t.Errorf("host logged %d whole synchronizations of 3000 containers, want 1", n)
	}
}

// Guests of the earlier ABI generations: v0.10 (events through
// plugin_state_change) and TinyGo-style command modules (_start).
func TestOlderGuests(t *testing.T) {
	e := startHost(t, startRuntime(t), spec(t, "10", "old", "v010"), spec(t, "20", "command", "command"))
	var steps []sim.Step
	if err := e.rt.Replay(context.Background(), sim.DefaultScenario(), func(s sim.Step) { steps = append(steps, s) }); err != nil {
		t.Fatal(err)
	}
	for _, s := range steps {
		if s.Err != nil {
			t.Errorf("%s: %v", s.Event.PrettyName(), s.Err)
		}
		if s.Event == api.Event_CREATE_CONTAINER {
			got := envOf(s.Response.(*api.CreateContainerResponse))
			if got["V010"] != "1" || got["WAT"] != "1" {
				t.Errorf("CreateContainer %s: env %v, want V010=1 and WAT=1", s.Container.Name, got)
			}
		}
	}
	// Events a v0.10 guest only gets through plugin_state_change.
	for _, ev := range []string{"RUN_POD_SANDBOX", "START_CONTAINER", "REMOVE_CONTAINER"} {
		if len(e.logs.matching(`source="env.log"`, ev)) == 0 {
			t.Errorf("v0.10 guest did not log %s through StateChange:\n%s", ev, strings.Join(e.logs.matching(`source="env.log"`), "\n"))
		}
	}
}

// A plugin that fails to load is reported and the others run.
func TestLoadErrorKeepsOthers(t *testing.T) {
	rt := startRuntime(t)
	bad := spec(t, "10", "bad", "injector")
	bad.MemoryLimit = 64 << 10 // a Go guest needs megabytes to initialize
	e := &env{t: t, rt: rt, logs: &logSink{}}
	h, err := runHost(t, rt.Socket(), e.logs, bad, spec(t, "20", "good", "injector", withConfig("env OK=1")))
	var le *nri.LoadError
	if !errors.As(err, &le) || le.Plugin != "10-bad" {
		t.Fatalf("Load error = %v, want a LoadError for 10-bad", err)
	}
	if h == nil || len(h.Registrations()) != 1 || h.Registrations()[0].Name() != "20-good" {
		t.Fatalf("host = %v, want 20-good alone", h)
	}
	e.host = h
	e.waitPlugins(1)
	if got := envOf(e.mustCreate(e.pod("p", nil), "c", nil)); got["OK"] != "1" {
		t.Errorf("remaining plugin did not adjust: %v", got)
	}
}

// A host started before the runtime waits for its socket, says so once, and
// registers when the runtime appears.
func TestWaitsForRuntime(t *testing.T) {
	dir := testutil.ShortDir(t)
	socket := filepath.Join(dir, "nri.sock")
	logs := &logSink{}
	h, err := runHost(t, socket, logs, spec(t, "10", "injector", "injector", withConfig("env LATE=1")))
	if err != nil {
		t.Fatal(err)
	}
	// Let it retry a few times against a missing socket.
	for len(logs.matching("cannot register")) == 0 {
		runtime.Gosched()
	}
	rt, err := sim.Start(socket)
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Stop()
	e := &env{t: t, rt: rt, logs: logs, host: h}
	e.waitPlugins(1)
	if got := envOf(e.mustCreate(e.pod("p", nil), "c", nil)); got["LATE"] != "1" {
		t.Errorf("adjustment %v", got)
	}
	if n := len(logs.matching("cannot register")); n != 1 {
		t.Errorf("%d log lines while waiting, want 1 (one per change of state)", n)
	}
}
