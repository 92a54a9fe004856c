package nri_test

import (
	"context"
	"testing"

	"github.com/nriwasm/nriwasm/internal/testplugins"
	"github.com/nriwasm/nriwasm/nri/sim"
)

// Pod lifecycles through the three example plugins, 3000 events (100000
// with NRIWASM_LONG=1): every event succeeds, and resident memory,
// goroutines and open files stay flat from the first tenth to the end.
func TestSoak(t *testing.T) {
	e := startHost(t, startRuntime(t),
		spec(t, "10", "logger", "logger"),
		spec(t, "20", "injector", "injector", withConfig("env SOAK=1")),
		spec(t, "30", "ulimit", "ulimit"))
	target := testplugins.Rounds(3000, 100000)
	events := 0
	var start testplugins.Usage
	for events < target {
		err := e.rt.Replay(context.Background(), sim.DefaultScenario(), func(s sim.Step) {
			events++
			if s.Err != nil {
				t.Fatalf("event %d, %s: %v", events, s.Event.PrettyName(), s.Err)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		if start == (testplugins.Usage{}) && events >= target/10 {
			start = testplugins.Measure(t)
		}
	}
	end := testplugins.Within(t, start, testplugins.Usage{Goroutines: 20, FDs: 10, RSS: 16 << 20})
	t.Logf("%d events through 3 plugins: at %d: %v; at the end: %v", events, target/10, start, end)
}
