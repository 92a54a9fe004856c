package nri_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/containerd/nri/pkg/adaptation"
	"github.com/containerd/nri/pkg/api"

	"github.com/nriwasm/nriwasm/internal/config"
	"github.com/nriwasm/nriwasm/internal/testplugins"
	"github.com/nriwasm/nriwasm/nri"
	"github.com/nriwasm/nriwasm/nri/sim"
)

// served fails unless a new container gets both test plugins' adjustments.
func (e *env) served(pod *api.PodSandbox, name string) {
	e.t.Helper()
	if got := envOf(e.mustCreate(pod, name, nil)); got["HOSTILE"] != "1" || got["WAT"] != "1" {
		e.t.Fatalf("%s: adjustment %v, want HOSTILE=1 and WAT=1", name, got)
	}
}

// twoPlugins runs the hostile guest (serving normally) and the command
// guest against rt.
func twoPlugins(t *testing.T, rt *sim.Runtime) *env {
	return startHost(t, rt, spec(t, "10", "hostile", "hostile"), spec(t, "20", "other", "command"))
}

// The runtime restarted 20 times while containers are created: every time
// the plugins register again, and the process holds what it held after the
// first restart.
func TestRuntimeRestartsUnderTraffic(t *testing.T) {
	rt := startRuntime(t, sim.Restartable())
	e := twoPlugins(t, rt)
	pod := e.pod("p", nil)
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var created atomic.Int64
	for caller := range 2 {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				// Errors are expected while the runtime is down.
				if _, ctr, err := e.create(pod, fmt.Sprintf("c%d-%d", caller, i), nil); err == nil {
					created.Add(1)
					_, _ = rt.Event(ctx, api.Event_REMOVE_CONTAINER, pod, ctr, nil)
				}
			}
		})
	}
	var base testplugins.Usage
	for i := range 20 {
		if err := rt.Restart(); err != nil {
			t.Fatal(err)
		}
		e.waitPlugins(2)
		if i == 0 {
			base = testplugins.Measure(t)
		}
	}
	stop()
	wg.Wait()
	if created.Load() == 0 {
		t.Fatal("no container was created during the restarts")
	}
	e.served(pod, "after")
	u := testplugins.Within(t, base, slack)
	t.Logf("20 restarts, %d containers: %v; after the first restart: %v", created.Load(), u, base)
}

// The socket removed under a running runtime does not disturb connected
// plugins; once the runtime is gone they wait for its socket and register
// with the runtime that recreates it.
func TestSocketRemovedAndRecreated(t *testing.T) {
	rt := startRuntime(t, sim.Restartable())
	e := twoPlugins(t, rt)
	pod := e.pod("p", nil)
	if err := os.Remove(rt.Socket()); err != nil {
		t.Fatal(err)
	}
	e.served(pod, "socket-removed")
	e.connected(2)
	base := testplugins.Measure(t)
	rt.Stop()
	deadline := time.Now().Add(waitTimeout)
	for len(e.logs.matching("cannot register with the runtime")) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the plugins did not notice the runtime was gone")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Let them retry a few times (the backoff doubles from 50 ms to 1 s).
	time.Sleep(2 * time.Second)
	rt2, err := sim.Start(rt.Socket())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rt2.Stop)
	e.rt = rt2
	e.waitPlugins(2)
	e.served(rt2.NewPod("p2", "default", "", nil, nil), "recreated")
	u := testplugins.Within(t, base, slack)
	t.Logf("after the socket came back: %v; before it went: %v", u, base)
}

// requestTimeout sets the runtime's request timeout for the test. It is
// global to pkg/adaptation: tests that set it must not run in parallel.
func requestTimeout(t *testing.T, d time.Duration) {
	adaptation.SetPluginRequestTimeout(d)
	t.Cleanup(func() { adaptation.SetPluginRequestTimeout(adaptation.DefaultPluginRequestTimeout) })
}

// A runtime whose request timeout (1 s) is shorter than the plugin's (10 s)
// still gets nriwasm's answer in time: the call is cut short of the
// runtime's timeout (the one Configure announced, and the request's own
// deadline), and the runtime keeps the plugin. An answer after its deadline
// would make the runtime drop the plugin and create the container without it.
func TestShortRuntimeTimeout(t *testing.T) {
	requestTimeout(t, time.Second)
	e := startHost(t, startRuntime(t),
		spec(t, "10", "hostile", "hostile", func(p *config.Plugin) { p.Timeout = 10 * time.Second }),
		spec(t, "20", "other", "command"))
	pod := e.pod("p", nil)
	for i := range 3 {
		if _, _, err := e.create(pod, "spin-"+strconv.Itoa(i), map[string]string{faultKey: "hostile:L"}); err == nil {
			t.Fatal("a spinning plugin's CreateContainer succeeded")
		}
		e.served(pod, "next-"+strconv.Itoa(i))
	}
	e.connected(2)
	if len(e.logs.matching("10-hostile", "deadline exceeded")) == 0 {
		t.Error("the deadline is not logged with the plugin's name")
	}
}

// runtimeLogs is what containerd/nri's library logged in this test binary:
// pkg/adaptation, as the runtime, logs what it rejects. Its logger is one
// unsynchronized global, so it is set once, before any test runs.
var runtimeLogs = &logSink{}

func TestMain(m *testing.M) {
	nri.SetLibraryLogger(slog.New(runtimeLogs))
	os.Exit(m.Run())
}

// A registration the runtime rejects (a name it does not allow) is retried
// with backoff, once logged, without leaking; the other plugin serves.
func TestRejectedRegistration(t *testing.T) {
	before := len(runtimeLogs.matching("invalid name"))
	e := &env{t: t, rt: startRuntime(t), logs: &logSink{}}
	var err error
	e.host, err = runHost(t, e.rt.Socket(), e.logs,
		spec(t, "10", "bad name", "command"), // NRI names are [A-Za-z0-9-_.+]
		spec(t, "20", "other", "command"))
	if err != nil {
		t.Fatal(err)
	}
	e.waitPlugins(1)
	rejections := func(n int) {
		t.Helper()
		deadline := time.Now().Add(waitTimeout)
		for len(runtimeLogs.matching("invalid name"))-before < n {
			if time.Now().After(deadline) {
				t.Fatalf("%d rejections, want %d", len(runtimeLogs.matching("invalid name"))-before, n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	rejections(2)
	base := testplugins.Measure(t)
	n := testplugins.Rounds(6, 40)
	rejections(n)
	if got := envOf(e.mustCreate(e.pod("p", nil), "c", nil)); got["WAT"] != "1" {
		t.Errorf("the other plugin did not adjust: %v", got)
	}
	if got := len(e.logs.matching("cannot register", "10-bad name")); got != 1 {
		t.Errorf("%d log lines for the rejections, want 1", got)
	}
	u := testplugins.Within(t, base, slack)
	t.Logf("%d rejections: %v; after 2: %v", n, u, base)
}

// Events for 1000 containers from 10 concurrent callers reach both plugins,
// and the state the registration tracked meanwhile is exactly the
// runtime's: a fresh instance is synchronized with it.
func TestConcurrentContainers(t *testing.T) {
	const callers, perCaller = 10, 100
	e := startHost(t, startRuntime(t),
		spec(t, "10", "fault", "fault", withConfig("cfg")),
		spec(t, "20", "injector", "injector", withConfig("env INJ=1")))
	pods := make([]*api.PodSandbox, callers)
	for i := range pods {
		pods[i] = e.pod("p"+strconv.Itoa(i), nil)
	}
	var wg sync.WaitGroup
	for c, pod := range pods {
		wg.Go(func() {
			for i := range perCaller {
				resp, ctr, err := e.create(pod, fmt.Sprintf("c%d", i), nil)
				if err != nil || envOf(resp)["INJ"] != "1" || envOf(resp)["FAULT_CONFIG"] != "cfg" {
					t.Errorf("caller %d container %d: %v, %v", c, i, resp, err)
					return
				}
				events := []api.Event{api.Event_START_CONTAINER}
				if i%2 == 1 {
					events = append(events, api.Event_STOP_CONTAINER, api.Event_REMOVE_CONTAINER)
				}
				for _, ev := range events {
					if _, err := e.rt.Event(context.Background(), ev, pod, ctr, nil); err != nil {
						t.Errorf("caller %d container %d: %s: %v", c, i, ev.PrettyName(), err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if _, _, err := e.create(pods[0], "trap", map[string]string{faultKey: "trap"}); err == nil {
		t.Fatal("trap: CreateContainer succeeded")
	}
	got := envOf(e.mustCreate(pods[0], "after", nil))
	want := map[string]string{
		"FAULT_SYNC_PODS":       strconv.Itoa(callers),
		"FAULT_SYNC_CONTAINERS": strconv.Itoa(callers * perCaller / 2),
		"FAULT_CREATES":         "1",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("fresh instance: %s = %s, want %s", k, got[k], v)
		}
	}
}
