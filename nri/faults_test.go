package nri_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/nri/pkg/api"

	"github.com/nriwasm/nriwasm/internal/config"
	"github.com/nriwasm/nriwasm/internal/testplugins"
	"github.com/nriwasm/nriwasm/nri"
	"github.com/nriwasm/nriwasm/wasm"
)

// slack is what the process may hold after many failures or reconnects
// over what it held after the first: goroutines and connections must not
// pile up, and memory must not grow with the count. See TESTED.md for the
// measured numbers.
var slack = testplugins.Usage{Goroutines: 20, FDs: 10, RSS: 16 << 20}

// guest is a plugin under test and the environment variable its normal
// reply sets, only from an instance that was configured and synchronized.
type guest struct{ wasm, key, value string }

var (
	hostileGuest = guest{"hostile", "HOSTILE", "1"}      // test/hostile/hostile.wat
	faultGuest   = guest{"fault", "FAULT_CONFIG", "cfg"} // test/fault, configured with "cfg"
)

// connected fails unless the runtime still has n plugins, each registered
// once: an answer after the runtime's deadline would have made it close the
// connection, and the plugin would have registered again.
func (e *env) connected(n int) {
	e.t.Helper()
	if got := e.rt.Plugins(); got != n {
		e.t.Fatalf("the runtime has %d plugins, want %d", got, n)
	}
	if lost := e.logs.matching("runtime connection lost"); len(lost) > 0 {
		e.t.Fatalf("a connection was lost:\n%s", strings.Join(lost, "\n"))
	}
	if got := len(e.logs.matching(`"registered with the runtime"`)); got != n {
		e.t.Fatalf("%d registrations, want %d", got, n)
	}
}

// remove removes containers from the runtime.
func (e *env) remove(pod *api.PodSandbox, ctrs ...*api.Container) {
	e.t.Helper()
	for _, c := range ctrs {
		if _, err := e.rt.Event(context.Background(), api.Event_REMOVE_CONTAINER, pod, c, nil); err != nil {
			e.t.Fatalf("RemoveContainer %s: %v", c.Name, err)
		}
	}
}

// Every way a guest can fail an event, with each on_error: the runtime gets
// its answer in time and keeps the plugin, the other plugin's adjustment is
// there, the failing plugin serves the next event from a fresh instance
// that was configured and synchronized, the log names the plugin and the
// reason, and after many rounds (1000 recoveries with NRIWASM_LONG=1) the
// process holds what it held after the first.
func TestHostileEvents(t *testing.T) {
	for _, tc := range []struct {
		name    string
		guest   guest
		mode    string        // the annotation value that selects the fault
		timeout time.Duration // the plugin's call timeout; 0: 2 s
		runtime time.Duration // the runtime's request timeout; 0: its default, 2 s
		failing bool          // the runtime gets an error (on_error = fail)
		fatal   bool          // the instance is replaced
		reason  string        // in the log
	}{
		{"infinite loop", hostileGuest, "hostile:L", 50 * time.Millisecond, 0, true, true, "deadline exceeded"},
		// The deadline does not stop a guest that recurses without a
		// loop: wazero's compiler checks it at loop back-edges only. The
		// recursion ends at wazero's 400 MB stack ceiling, 0.2 to 0.5 s
		// here but seconds under the race detector, past the runtime's
		// default timeout (see TESTED.md).
		{"unbounded recursion", hostileGuest, "hostile:R", 0, 10 * time.Second, true, true, "stack overflow"},
		{"memory.grow in a loop", hostileGuest, "hostile:G", 0, 0, false, false, ""},
		{"a Go guest out of memory", faultGuest, "grow", 0, 0, true, true, "out of memory"},
		{"a Go panic", faultGuest, "trap", 0, 0, true, true, "fault: requested trap"},
		{"unreachable", hostileGuest, "hostile:U", 0, 0, true, true, "unreachable"},
		{"reply pointer outside memory", hostileGuest, "hostile:P", 0, 0, true, true, "outside memory"},
		{"reply length outside memory", hostileGuest, "hostile:N", 0, 0, true, true, "outside memory"},
		{"error reply of garbage", hostileGuest, "hostile:E", 0, 0, true, false, "level=ERROR forged"},
		{"reply claiming 100 MiB", hostileGuest, "hostile:H", 0, 0, true, true, "more than the 16777216 accepted"},
		{"reply not protobuf", hostileGuest, "hostile:B", 0, 0, true, true, "malformed plugin response"},
		{"reply of the wrong message type", hostileGuest, "hostile:W", 0, 0, true, true, "wrong wireType"},
		{"env.log with bad pointers", hostileGuest, "hostile:X", 0, 0, false, false, "plugin logged from outside its memory"},
		{"env.log in a tight loop", hostileGuest, "hostile:F", 0, 0, false, false, "flood"},
		{"megabytes on stdout", hostileGuest, "hostile:O", 0, 0, false, false, `source="stdout"`},
	} {
		for _, onError := range []config.OnError{config.Fail, config.Ignore} {
			t.Run(tc.name+"/"+string(onError), func(t *testing.T) {
				if tc.runtime > 0 {
					requestTimeout(t, tc.runtime)
				}
				e := startHost(t, startRuntime(t),
					spec(t, "10", "hostile", tc.guest.wasm, withConfig("cfg"), func(p *config.Plugin) {
						p.OnError = onError
						p.MemoryLimit = 16 << 20 // a Go guest runs out of memory fast
						if tc.timeout > 0 {
							p.Timeout = tc.timeout
						}
					}),
					spec(t, "20", "other", "command"))
				pod := e.pod("p", nil)
				// 1000 recoveries of each fatal fault in the long run; the
				// recovery does not depend on on_error.
				rounds := testplugins.Rounds(3, 50)
				if tc.fatal && onError == config.Ignore {
					rounds = testplugins.Rounds(3, 1000)
				}
				var base testplugins.Usage
				for i := range rounds {
					resp, bad, err := e.create(pod, fmt.Sprintf("bad-%d", i), map[string]string{faultKey: tc.mode})
					switch {
					case tc.failing && onError == config.Fail:
						if err == nil || !strings.Contains(err.Error(), "10-hostile") {
							t.Fatalf("round %d: error %v, want one naming 10-hostile", i, err)
						}
					case err != nil:
						t.Fatalf("round %d: %v", i, err)
					case envOf(resp)["WAT"] != "1":
						t.Fatalf("round %d: the other plugin's adjustment is missing: %v", i, envOf(resp))
					}
					resp, good, err := e.create(pod, fmt.Sprintf("good-%d", i), nil)
					if got := envOf(resp); err != nil || got[tc.guest.key] != tc.guest.value || got["WAT"] != "1" {
						t.Fatalf("round %d: next container got %v, %v; want %s=%s and WAT=1", i, got, err, tc.guest.key, tc.guest.value)
					}
					// The runtime's state, and the Synchronize of the next
					// fresh instance, stay the same size.
					e.remove(pod, bad, good)
					if i == 0 {
						base = testplugins.Measure(t)
					}
				}
				e.connected(2)
				if want := map[bool]uint64{true: uint64(rounds)}[tc.fatal]; e.host.Registrations()[0].Plugin().Recoveries() != want {
					t.Errorf("%d recoveries, want %d", e.host.Registrations()[0].Plugin().Recoveries(), want)
				}
				if len(e.logs.matching("10-hostile", tc.reason)) == 0 {
					t.Errorf("no log line names 10-hostile and %q", tc.reason)
				}
				u := testplugins.Within(t, base, slack)
				t.Logf("%d rounds: %v; after the first: %v", rounds, u, base)
			})
		}
	}
}

// Modules broken as a whole fail to load with the plugin's name and the
// reason, and the other plugin serves. An _initialize that never returns
// costs the start timeout (20 s), so it runs with NRIWASM_LONG=1 only.
func TestHostileLoad(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	read := func(name string) []byte {
		b, err := os.ReadFile(testplugins.Path(t, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	type loadCase struct {
		name, path, sha256 string
		want               error
		reason             string
	}
	cases := []loadCase{
		{"trap in _initialize", testplugins.Path(t, "init-trap"), "", wasm.ErrTrap, "unreachable"},
		{"start function traps", testplugins.Path(t, "start-trap"), "", wasm.ErrTrap, "unreachable"},
		{"wrong plugin_api_version", testplugins.Path(t, "bad-version"), "", wasm.ErrABI, "plugin_api_version is 2"},
		{"exports nothing", testplugins.Path(t, "no-exports"), "", wasm.ErrABI, "plugin_api_version is not exported"},
		{"huge data segment", write("huge.wasm", testplugins.WithData(read("empty"), 16<<20)), "", wasm.ErrTrap, "out of bounds"},
		{"malformed bytes", write("truncated.wasm", read("hostile")[:500]), "", wasm.ErrNotWasm, "truncated"},
		// The file changed after the configuration was checked.
		{"sha256 mismatch", testplugins.Path(t, "empty"), strings.Repeat("0", 64), wasm.ErrIntegrity, "sha256 pins"},
	}
	if testplugins.Long() {
		cases = append(cases, loadCase{"infinite loop in _initialize", testplugins.Path(t, "init-spin"), "", wasm.ErrDeadline, "instantiating"})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := &env{t: t, rt: startRuntime(t), logs: &logSink{}}
			h, err := runHost(t, e.rt.Socket(), e.logs,
				spec(t, "10", "bad", "empty", func(p *config.Plugin) { p.Path, p.SHA256 = tc.path, tc.sha256 }),
				spec(t, "20", "other", "command"))
			var le *nri.LoadError
			if !errors.As(err, &le) || le.Plugin != "10-bad" || !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("Load error %v, want a LoadError for 10-bad, %v, saying %q", err, tc.want, tc.reason)
			}
			if len(e.logs.matching("plugin not loaded", "10-bad", tc.reason)) != 1 {
				t.Errorf("the refusal is not logged with the plugin's name and the reason")
			}
			e.host = h
			e.waitPlugins(1)
			if got := envOf(e.mustCreate(e.pod("p", nil), "c", nil)); got["WAT"] != "1" {
				t.Errorf("the other plugin did not adjust: %v", got)
			}
		})
	}
}
