package wasm_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nriwasm/nriwasm/internal/testutil"
	"github.com/nriwasm/nriwasm/wasm"
)

// needOf compiles name alone to learn what it reserves.
func needOf(t *testing.T, name string, c wasm.Config) uint64 {
	t.Helper()
	m, err := wasm.Compile(context.Background(), name, read(t, name), c)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(context.Background())
	return m.Info().Need.Total()
}

// Plugins are admitted while they fit; one that does not is refused with
// the numbers, and a closed one gives its share back.
func TestBudgetAdmission(t *testing.T) {
	c := cfg(t, nil).WithMemoryLimit(16 << 20)
	need := needOf(t, "fault", c)
	budget := wasm.NewBudget(need + need/2)
	c = c.WithBudget(budget)
	first, err := wasm.Compile(context.Background(), "first", read(t, "fault"), c)
	if err != nil {
		t.Fatal(err)
	}
	_, err = wasm.Compile(context.Background(), "second", read(t, "fault"), c)
	if !errors.Is(err, wasm.ErrBudget) {
		t.Fatalf("second plugin: %v, want ErrBudget", err)
	}
	for _, want := range []string{`plugin "second" needs ` + wasm.FormatBytes(need), "16 MiB linear", "budget " + wasm.FormatBytes(need+need/2), wasm.FormatBytes(need) + " in use by 1 plugin"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q does not say %q", err, want)
		}
	}
	first.Close(context.Background())
	third, err := wasm.Compile(context.Background(), "third", read(t, "fault"), c)
	if err != nil {
		t.Fatalf("after the first closed: %v", err)
	}
	third.Close(context.Background())
	if budget.InUse() != 0 {
		t.Errorf("%d bytes still reserved with every module closed", budget.InUse())
	}
}

// A guest that grows its memory in a loop is stopped at its limit, the host
// survives with that memory committed at most, and after a hundred
// recoveries the budget is whole again.
func TestGrowthStopsAtLimit(t *testing.T) {
	const limit = 24 << 20
	c := cfg(t, nil).WithMemoryLimit(limit)
	budget := wasm.NewBudget(needOf(t, "fault", c))
	p := newPlugin(t, "fault", c.WithBudget(budget), nil)
	inUse, baseline := budget.InUse(), budget.Committed()
	// The peak resident set while the guest grows: linear memory is
	// committed in place, not copied on each grow, so it adds the limit at
	// most (FACTS.md: wazero's default allocator took ~3.5x).
	rss := resetPeakRSS(t)
	if _, err := create(t, p, 10*time.Second, "grow"); !errors.Is(err, wasm.ErrTrap) {
		t.Fatalf("grow: %v", err)
	}
	const slack = 16 << 20 // the test's own heap, wazero's bookkeeping
	if peak := testutil.ProcStatus(t, 0, "VmHWM"); peak > rss+limit+slack {
		t.Errorf("peak RSS %d MiB while growing to %d MiB from %d MiB", peak>>20, limit>>20, rss>>20)
	}
	for i := range 100 {
		if _, err := create(t, p, 10*time.Second, "grow"); !errors.Is(err, wasm.ErrTrap) {
			t.Fatalf("grow %d: %v, want a trap when memory.grow fails", i, err)
		}
		if got := budget.Committed(); got > limit {
			t.Fatalf("grow %d: %d bytes committed, above the %d limit", i, got, limit)
		}
		if _, err := create(t, p, 30*time.Second, ""); err != nil {
			t.Fatalf("after grow %d: %v", i, err)
		}
		if got := budget.Committed(); got != baseline {
			t.Fatalf("after recovery %d: %d bytes committed, a fresh instance had %d", i, got, baseline)
		}
	}
	if n := p.Recoveries(); n != 101 {
		t.Errorf("%d recoveries, want 101", n)
	}
	if got := budget.InUse(); got != inUse {
		t.Errorf("reserved %d after the recoveries, %d before", got, inUse)
	}
}

// resetPeakRSS resets the kernel's peak resident set of this process and
// returns the current one.
func resetPeakRSS(t *testing.T) uint64 {
	t.Helper()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Skipf("cannot reset the peak RSS: %v", err)
	}
	return testutil.ProcStatus(t, 0, "VmRSS")
}
