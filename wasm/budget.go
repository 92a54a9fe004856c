package wasm

import (
	"runtime"

	"github.com/nriwasm/nriwasm/wasm/internal/memory"
)

// ErrBudget is returned when a plugin does not fit the memory budget.
var ErrBudget = memory.ErrBudget

// instanceOverhead is what one instance costs the host outside its linear
// memory and compiled code: wazero's module instance (function, table and
// global instances), the call stack and the guest output buffers. It is an
// upper bound of what `make footprint` measures for the example guests.
const instanceOverhead = 1 << 20

// Budget is the memory all plugins of a process share. Each module reserves
// its linear memory limit, its compiled code and an instance's overhead when
// it is compiled, in the order modules are compiled; one that does not fit is
// refused. Linear memory is backed by reservations that grow in place, and
// growth that would take the committed total past the budget fails in the
// guest (memory.grow returns -1).
type Budget struct{ b *memory.Budget }

// NewBudget returns a budget of limit bytes; 0 is unlimited.
func NewBudget(limit uint64) *Budget { return &Budget{memory.NewBudget(limit)} }

// Limit is the budget in bytes, 0 if unlimited.
func (b *Budget) Limit() uint64 { return b.b.Limit() }

// InUse is what the modules compiled against the budget reserved.
func (b *Budget) InUse() uint64 { return b.b.InUse() }

// Committed is the linear memory the instances use now.
func (b *Budget) Committed() uint64 { return b.b.Committed() }

// CheckAddressSpace refuses, on 32-bit architectures, a budget and memory
// limits that cannot fit the process's address space: every linear memory
// reserves its whole limit up front. It accepts anything on 64-bit ones.
func CheckAddressSpace(budget uint64, limits []uint64) error {
	return memory.CheckAddressSpace(runtime.GOARCH, budget, limits)
}
