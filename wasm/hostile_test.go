package wasm_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/containerd/nri/pkg/api"

	"github.com/nriwasm/nriwasm/internal/testplugins"
	"github.com/nriwasm/nriwasm/internal/testutil"
	"github.com/nriwasm/nriwasm/wasm"
)

// replay is what nri/ does for a fresh instance: Configure, then
// Synchronize. The hostile guest serves only instances that saw both.
func replay(ctx context.Context, in *wasm.Instance) error {
	if err := in.Call(ctx, wasm.Configure, &api.ConfigureRequest{}, &api.ConfigureResponse{}); err != nil {
		return err
	}
	return in.Call(ctx, wasm.Synchronize, &api.SynchronizeRequest{}, &api.SynchronizeResponse{})
}

// served reports whether the hostile guest's normal reply came back.
func served(resp *api.CreateContainerResponse) bool {
	return slices.ContainsFunc(resp.GetAdjust().GetEnv(), func(kv *api.KeyValue) bool { return kv.Key == "HOSTILE" && kv.Value == "1" })
}

// Each way a guest can abuse the ABI in a call fails as the kind of error
// it is; every fatal one replaces the instance, and the host's log stays
// bounded and clean whatever the guest writes.
func TestHostileCalls(t *testing.T) {
	const limit = 8 << 20
	for _, tc := range []struct {
		name, mode string
		want       error // nil: the call succeeds
		words      string
		check      func(*testing.T, outcome)
	}{
		{"infinite loop", "L", wasm.ErrDeadline, "deadline exceeded", nil},
		{"unbounded recursion", "R", wasm.ErrTrap, "stack overflow", nil},
		{"unreachable", "U", wasm.ErrTrap, "unreachable", nil},
		{"reply pointer outside memory", "P", wasm.ErrResponse, "returned [0xfffff000, +16), outside memory", nil},
		{"reply length outside memory", "N", wasm.ErrResponse, "+16777215), outside memory", nil},
		{"reply claiming 100 MiB", "H", wasm.ErrResponse, "104857600 bytes, more than the 16777216 accepted", nil},
		{"reply not protobuf", "B", wasm.ErrResponse, "plugin_create_container", nil},
		{"reply of the wrong message type", "W", wasm.ErrResponse, "wrong wireType", nil},
		{"error reply of garbage", "E", &wasm.PluginError{}, "forged", checkClean},
		{"memory.grow in a loop", "G", nil, "", func(t *testing.T, o outcome) {
			// The guest grew 1 MiB at a time until refused: it stopped
			// at the limit, not below it and not past it.
			if got := o.budget.Committed(); got > limit || got <= limit-(1<<20) {
				t.Errorf("%d bytes committed, want the %d limit", got, limit)
			}
		}},
		{"env.log with bad pointers", "X", nil, "", func(t *testing.T, o outcome) {
			for _, w := range []string{"plugin logged from outside its memory", "plugin logged an oversized message", "plugin logged an invalid LogRequest"} {
				if !strings.Contains(o.log, w) {
					t.Errorf("log does not say %q:\n%s", w, o.log)
				}
			}
		}},
		{"env.log in a tight loop", "F", nil, "", func(t *testing.T, o outcome) {
			checkRate(t, strings.Count(o.log, "msg=flood"), o.elapsed)
		}},
		{"megabytes on stdout", "O", nil, "", func(t *testing.T, o outcome) {
			var lines int
			for l := range strings.Lines(o.log) {
				if strings.Contains(l, "source=stdout") {
					lines++
					// slog quotes the message: a few bytes more than the cap.
					if len(l) > 1200 {
						t.Errorf("a stdout line of %d bytes reached the log", len(l))
					}
				}
			}
			checkRate(t, lines, o.elapsed)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf testutil.Buffer
			budget := wasm.NewBudget(0)
			p := newPlugin(t, "hostile", cfg(t, &buf).WithMemoryLimit(limit).WithBudget(budget), replay)
			timeout := 10 * time.Second
			if tc.want == wasm.ErrDeadline {
				timeout = 200 * time.Millisecond
			}
			start := time.Now()
			_, err := create(t, p, timeout, "hostile:"+tc.mode)
			elapsed := time.Since(start)
			var perr *wasm.PluginError
			switch {
			case tc.want == nil && err != nil:
				t.Fatalf("error %v, want none", err)
			case errors.As(tc.want, &perr) && !errors.As(err, &perr):
				t.Fatalf("error %v, want the plugin's error reply", err)
			case tc.want != nil && !errors.As(tc.want, &perr) && !errors.Is(err, tc.want):
				t.Fatalf("error %v, want %v", err, tc.want)
			case err != nil && !strings.Contains(err.Error(), tc.words):
				t.Errorf("error %q does not say %q", err, tc.words)
			}
			if tc.check != nil {
				tc.check(t, outcome{err, buf.String(), elapsed, budget})
			}
			next, err := create(t, p, 30*time.Second, "")
			if err != nil || !served(next) {
				t.Fatalf("next call: %v, %v; want HOSTILE=1 from a configured and synchronized instance", next, err)
			}
			fatal := tc.want != nil && !errors.As(tc.want, &perr)
			if want := map[bool]uint64{true: 1}[fatal]; p.Recoveries() != want {
				t.Errorf("%d recoveries, want %d", p.Recoveries(), want)
			}
		})
	}
}

// outcome is what a hostile call left behind.
type outcome struct {
	err     error
	log     string
	elapsed time.Duration
	budget  *wasm.Budget
}

// checkClean fails if the guest's text reached the error unsanitized: it
// could forge log lines or garble a terminal.
func checkClean(t *testing.T, o outcome) {
	var perr *wasm.PluginError
	if !errors.As(o.err, &perr) {
		t.Fatalf("error %v, want the plugin's", o.err)
	}
	if !utf8.ValidString(perr.Message) || strings.ContainsFunc(perr.Message, func(r rune) bool { return r < ' ' && r != '\t' }) {
		t.Errorf("plugin error %q has control characters or invalid UTF-8", perr.Message)
	}
}

// checkRate fails if more guest lines reached the log than the rate limit
// lets through in elapsed: a burst of 200, then 50 a second.
func checkRate(t *testing.T, lines int, elapsed time.Duration) {
	t.Helper()
	if most := 200 + int(50*elapsed.Seconds()) + 1; lines == 0 || lines > most {
		t.Errorf("%d guest lines reached the log in %v, want 1 to %d", lines, elapsed, most)
	}
}

// load compiles and starts a plugin, then releases it.
func load(ctx context.Context, bin []byte, c wasm.Config) error {
	m, err := wasm.Compile(ctx, "hostile", bin, c)
	if err != nil {
		return err
	}
	p := wasm.NewPlugin(m, nil)
	defer p.Close(ctx)
	return p.Start(ctx)
}

// Modules broken as a whole are refused at load with the reason, and a
// thousand refusals leave no goroutine, file or memory behind.
func TestHostileModules(t *testing.T) {
	hostile := read(t, "hostile")
	for _, tc := range []struct {
		name  string
		bin   []byte
		want  error
		words string
	}{
		{"infinite loop in _initialize", read(t, "init-spin"), wasm.ErrDeadline, "instantiating"},
		{"trap in _initialize", read(t, "init-trap"), wasm.ErrTrap, "unreachable"},
		{"start function traps", read(t, "start-trap"), wasm.ErrTrap, "unreachable"},
		{"wrong plugin_api_version", read(t, "bad-version"), wasm.ErrABI, "plugin_api_version is 2"},
		{"exports nothing", read(t, "no-exports"), wasm.ErrABI, "plugin_api_version is not exported"},
		{"huge data segment", testplugins.WithData(read(t, "empty"), 16<<20), wasm.ErrTrap, "out of bounds"},
		{"truncated", hostile[:len(hostile)*2/3], wasm.ErrNotWasm, ""},
		{"garbage after the header", append(slices.Clip(hostile[:8]), bytes.Repeat([]byte{0xff}, 64)...), wasm.ErrNotWasm, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			budget := wasm.NewBudget(0)
			c := cfg(t, nil).WithMemoryLimit(16 << 20).WithStartTimeout(50 * time.Millisecond).WithBudget(budget)
			var base testplugins.Usage
			rounds := testplugins.Rounds(3, 1000)
			for i := range rounds {
				err := load(ctx, tc.bin, c)
				if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.words) {
					t.Fatalf("round %d: error %v, want %v saying %q", i, err, tc.want, tc.words)
				}
				if budget.InUse() != 0 {
					t.Fatalf("round %d: %d bytes of the budget still reserved", i, budget.InUse())
				}
				if i == 0 {
					base = testplugins.Measure(t)
				}
			}
			u := testplugins.Within(t, base, testplugins.Usage{Goroutines: 5, FDs: 5, RSS: 16 << 20})
			t.Logf("%d refusals: %v, after the first %v", rounds, u, base)
		})
	}
}
