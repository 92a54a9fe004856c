package memory

import (
	"errors"
	"strings"
	"testing"
)

// On 32-bit architectures, budgets and limits that cannot fit the address
// space are refused with what to change; 64-bit ones accept anything.
func TestCheckAddressSpace(t *testing.T) {
	for _, tc := range []struct {
		arch   string
		budget uint64
		limits []uint64
		want   string // "" accepts
	}{
		{"amd64", 0, []uint64{4 << 30, 4 << 30}, ""},
		{"arm64", 0, nil, ""},
		{"arm", 256 << 20, []uint64{32 << 20, 32 << 20}, ""},
		{"arm", 0, nil, "memory_budget is 0 (unlimited) on GOARCH=arm"},
		{"riscv", 2 << 30, nil, "memory_budget 2 GiB is above the 1 GiB ceiling"},
		{"arm", 512 << 20, []uint64{768 << 20, 512 << 20}, "add up to 1.2 GiB (768 MiB + 512 MiB)"},
		{"386", 512 << 20, []uint64{^uint64(0), 1}, "above the 1 GiB ceiling"},
	} {
		err := CheckAddressSpace(tc.arch, tc.budget, tc.limits)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s %d %v: %v", tc.arch, tc.budget, tc.limits, err)
		case tc.want != "" && (!errors.Is(err, ErrAddressSpace) || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s %d %v: %v, want an error saying %q", tc.arch, tc.budget, tc.limits, err, tc.want)
		}
	}
}

func TestNewBytes(t *testing.T) {
	for _, tc := range []struct {
		name          string
		before, after []Range
		want          uint64
	}{
		{"new mapping", []Range{{0x1000, 0x2000}}, []Range{{0x1000, 0x2000}, {0x8000, 0xa000}}, 0x2000},
		{"merged with a neighbour", []Range{{0x4000, 0x6000}}, []Range{{0x1000, 0x6000}}, 0x3000},
		{"old one unmapped", []Range{{0x1000, 0x2000}, {0x3000, 0x4000}}, []Range{{0x3000, 0x4000}}, 0},
		{"nothing", nil, nil, 0},
	} {
		if got := NewBytes(tc.before, tc.after); got != tc.want {
			t.Errorf("%s: %#x, want %#x", tc.name, got, tc.want)
		}
	}
}

func TestExecMappings(t *testing.T) {
	maps := `55d4c0000000-55d4c0010000 r-xp 00000000 08:01 1234 /usr/bin/nriwasm
7f0000000000-7f0000400000 r-xp 00000000 00:00 0 
7f0000400000-7f0000800000 rw-p 00000000 00:00 0 
7ffd00000000-7ffd00002000 r-xp 00000000 00:00 0                          [vdso]
`
	got, err := execMappings(strings.NewReader(maps))
	if err != nil || len(got) != 1 || got[0] != (Range{0x7f0000000000, 0x7f0000400000}) {
		t.Errorf("execMappings = %v, %v; want the one anonymous executable mapping", got, err)
	}
	if _, err := execMappings(strings.NewReader("zz-1 r-xp 0 00:00 0\n")); err == nil {
		t.Error("a malformed address range was accepted")
	}
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[uint64]string{100: "100 B", 512 << 10: "512 KiB", 41<<20 + 512<<10: "41.5 MiB", 1 << 30: "1 GiB"} {
		if got := FormatBytes(n); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// A reservation's linear memory grows in place up to its limit, is refused
// past it, and gives everything back when freed and released.
func TestAllocator(t *testing.T) {
	b := NewBudget(8 << 20)
	r, err := b.Reserve("p", Need{Linear: 4 << 20, Code: 1 << 20, Overhead: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	m := r.allocate(16 << 20) // the module's own maximum is above its limit
	first := m.Reallocate(64 << 10)
	if len(first) != 64<<10 {
		t.Fatalf("initial allocation: %d bytes", len(first))
	}
	first[0] = 42
	grown := m.Reallocate(4 << 20)
	if len(grown) != 4<<20 || &grown[0] != &first[0] || grown[0] != 42 {
		t.Fatal("growth moved or lost the memory")
	}
	if m.Reallocate(4<<20+64<<10) != nil {
		t.Error("growth past the limit was allowed")
	}
	if got := b.Committed(); got != 4<<20 {
		t.Errorf("committed %d, want 4 MiB", got)
	}
	if _, err := b.Reserve("q", Need{Linear: 3 << 20}); !errors.Is(err, ErrBudget) ||
		!strings.Contains(err.Error(), `plugin "q" needs 3 MiB`) || !strings.Contains(err.Error(), "budget 8 MiB, 6 MiB in use by 1 plugin") {
		t.Errorf("over-budget reservation: %v", err)
	}
	r.Release() // the memory is still live: the share returns when it is freed
	if b.InUse() == 0 {
		t.Error("released while its memory is live")
	}
	m.Free()
	m.Free()
	if b.InUse() != 0 || b.Committed() != 0 {
		t.Errorf("after free and release: %d in use, %d committed", b.InUse(), b.Committed())
	}
}
