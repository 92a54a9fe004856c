package memory

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"sync"
)

// ErrBudget is wrapped by every refusal to admit a plugin or to give it memory.
var ErrBudget = errors.New("memory: budget exceeded")

const (
	// wasmPage is the WebAssembly page size: linear memory grows in these units.
	wasmPage = 64 << 10
	// maxPages is the most pages a 32-bit linear memory (4 GiB) can have.
	maxPages = 1 << 16
)

// Need is what one plugin instance reserves from the budget.
type Need struct {
	// Linear is the plugin's memory_limit: the most linear memory one
	// instance may commit.
	Linear uint64
	// Code is the compiled code (compiler: executable mappings; interpreter:
	// IR on the Go heap), as measured by the caller.
	Code uint64
	// Overhead is the host-side cost of an instance outside linear memory.
	Overhead uint64
}

// Total is Linear+Code+Overhead, saturated at math.MaxUint64.
func (n Need) Total() uint64 {
	t, overflow := n.sum()
	if overflow {
		return math.MaxUint64
	}
	return t
}

func (n Need) sum() (uint64, bool) {
	t, c1 := bits.Add64(n.Linear, n.Code, 0)
	t, c2 := bits.Add64(t, n.Overhead, 0)
	return t, c1|c2 != 0
}

// LimitPages is Linear in WebAssembly pages, for
// wazero.RuntimeConfig.WithMemoryLimitPages: with it, a module whose minimum
// memory exceeds Linear fails CompileModule instead of reaching Allocate.
func (n Need) LimitPages() uint32 {
	return uint32(min(n.Linear/wasmPage, maxPages))
}

// String is the breakdown used in error messages.
func (n Need) String() string {
	return fmt.Sprintf("%s linear + %s code + %s overhead",
		FormatBytes(n.Linear), FormatBytes(n.Code), FormatBytes(n.Overhead))
}

// Budget is the process-wide memory budget shared by all plugins. It admits
// plugins by their whole Need (Reserve) and caps the linear memory actually
// committed by all of them together (see Reservation.Allocator). It is safe
// for concurrent use.
type Budget struct {
	limit uint64

	mu        sync.Mutex
	inUse     uint64 // Need.Total of live reservations
	fixed     uint64 // Code+Overhead of live reservations: not available to linear memory
	committed uint64 // linear memory committed by live memories
	owners    int    // live reservations
}

// NewBudget returns a budget of limit bytes; 0 means unlimited.
func NewBudget(limit uint64) *Budget {
	return &Budget{limit: limit}
}

// Limit is the budget in bytes, 0 if unlimited.
func (b *Budget) Limit() uint64 { return b.limit }

// InUse is the sum of the needs of live reservations.
func (b *Budget) InUse() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.inUse
}

// Committed is the linear memory currently committed by live allocators.
func (b *Budget) Committed() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.committed
}

// Reserve admits a plugin, or refuses with an error wrapping ErrBudget that
// names the plugin, its need with the breakdown, the budget and what is in
// use. The caller must Release the reservation when the plugin is gone.
func (b *Budget) Reserve(owner string, need Need) (*Reservation, error) {
	total, overflow := need.sum()
	b.mu.Lock()
	defer b.mu.Unlock()
	after, c := bits.Add64(b.inUse, total, 0)
	if overflow || c != 0 || (b.limit > 0 && after > b.limit) {
		return nil, fmt.Errorf("%w: plugin %q needs %s (%s); %s",
			ErrBudget, owner, FormatBytes(need.Total()), need, b.describe())
	}
	b.inUse = after
	b.fixed += need.Code + need.Overhead
	b.owners++
	return &Reservation{budget: b, owner: owner, need: need}, nil
}

// describe states the budget and its use, for error messages. b.mu is held.
func (b *Budget) describe() string {
	limit := "unlimited budget"
	if b.limit > 0 {
		limit = "budget " + FormatBytes(b.limit)
	}
	switch b.owners {
	case 0:
		return limit + ", none in use"
	case 1:
		return fmt.Sprintf("%s, %s in use by 1 plugin", limit, FormatBytes(b.inUse))
	}
	return fmt.Sprintf("%s, %s in use by %d plugins", limit, FormatBytes(b.inUse), b.owners)
}

// Reservation is one plugin's admitted share of a Budget. Its Allocator backs
// the linear memory of the plugin's instances, one after another (a plugin is
// re-instantiated after a trap: the old memory is freed, a new one
// allocated).
type Reservation struct {
	budget *Budget
	owner  string
	need   Need

	// Guarded by budget.mu.
	live      int    // memories allocated and not yet freed
	committed uint64 // linear memory committed by those memories
	released  bool
}

// Owner is the name the reservation was made for.
func (r *Reservation) Owner() string { return r.owner }

// Need is what was reserved.
func (r *Reservation) Need() Need { return r.need }

// Committed is the linear memory committed by this reservation's live
// memories.
func (r *Reservation) Committed() uint64 {
	r.budget.mu.Lock()
	defer r.budget.mu.Unlock()
	return r.committed
}

// Release gives the reservation back. It is idempotent. If memories are
// still live (their modules not yet closed), the budget share is returned
// when the last of them is freed; no new memory is allocated from a released
// reservation.
func (r *Reservation) Release() {
	r.budget.mu.Lock()
	defer r.budget.mu.Unlock()
	if r.released {
		return
	}
	r.released = true
	r.settle()
}

// settle returns the share once the reservation is released and its last
// memory freed. budget.mu is held.
func (r *Reservation) settle() {
	if !r.released || r.live > 0 {
		return
	}
	b := r.budget
	b.inUse -= r.need.Total()
	b.fixed -= r.need.Code + r.need.Overhead
	b.owners--
}
