package memory

import (
	"context"
	"fmt"
	"os"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
)

// osPage is the granularity of commits (mprotect works on whole OS pages).
var osPage = uint64(os.Getpagesize())

// Allocator returns a wazero memory allocator that backs each linear memory
// with a reservation of min(max, Linear) bytes of address space, committed in
// place as the guest grows: RSS tracks the pages the guest touches, nothing
// is copied and the base address never moves (so shared memories work too).
//
// Reallocate returns nil, which the guest sees as memory.grow = -1, past
// Linear, or when growing would take the budget's committed linear memory
// plus every reservation's Code and Overhead past the budget's limit. The
// initial size (the module's declared minimum) is exempt from the budget-wide
// check because wazero panics when it is refused: admission is Reserve's job.
// It is still refused past Linear; set the runtime's WithMemoryLimitPages to
// Need.LimitPages so such a module fails CompileModule instead, or use
// Instantiate, which turns that panic into an error.
//
// wazero frees a memory when its module is closed. A module must not be
// closed while another goroutine is still calling into it: the memory is
// unmapped, and a guest that touches it afterwards kills the process.
func (r *Reservation) Allocator() experimental.MemoryAllocator {
	return experimental.MemoryAllocatorFunc(func(_, max uint64) experimental.LinearMemory {
		return r.allocate(max)
	})
}

// Instantiate instantiates compiled in rt with its linear memory from r's
// Allocator. Unlike putting the allocator on the context yourself, it turns a
// refused initial allocation (a panic inside wazero) into an error, and it
// frees the memory that wazero leaves allocated when instantiation fails
// before the module exists (an out-of-bounds data segment, a trapping start
// section).
func (r *Reservation) Instantiate(ctx context.Context, rt wazero.Runtime, compiled wazero.CompiledModule, cfg wazero.ModuleConfig) (mod api.Module, err error) {
	var mems []*linearMemory
	ctx = experimental.WithMemoryAllocator(ctx, experimental.MemoryAllocatorFunc(func(_, max uint64) experimental.LinearMemory {
		m := r.allocate(max)
		mems = append(mems, m)
		return m
	}))
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("memory: instantiating plugin %q panicked: %v", r.owner, p)
			for _, m := range mems {
				if m.refused != nil {
					err = m.refused
				}
			}
		}
		if err != nil {
			for _, m := range mems {
				m.Free() // no-op if wazero already closed the module
			}
			mod = nil
		}
	}()
	return rt.InstantiateModule(ctx, compiled, cfg)
}

// linearMemory implements experimental.LinearMemory on one reservation of
// address space. All fields are guarded by the budget's mutex.
type linearMemory struct {
	r         *Reservation
	mapping   []byte // the whole reservation as returned by reserve; nil if limit is 0
	limit     uint64 // Reallocate past this returns nil
	committed uint64 // accessible prefix of mapping, counted in the budget
	started   bool   // the initial Reallocate happened
	freed     bool
	refused   error // why the initial allocation failed, for Instantiate
}

// allocate never fails outright: wazero cannot take a nil LinearMemory. A
// memory that could not be set up is born freed, so it refuses every
// Reallocate, and records why.
func (r *Reservation) allocate(max uint64) *linearMemory {
	b := r.budget
	m := &linearMemory{r: r, limit: min(max, r.need.Linear)}
	b.mu.Lock()
	defer b.mu.Unlock()
	if r.released {
		m.freed = true
		m.refused = fmt.Errorf("%w: plugin %q: allocating from a released reservation", ErrBudget, r.owner)
		return m
	}
	if n := roundUp(m.limit, osPage); n > 0 {
		mapping, err := reserve(n)
		if err != nil {
			m.freed = true
			m.refused = fmt.Errorf("%w: plugin %q: reserving %s of address space: %w", ErrBudget, r.owner, FormatBytes(n), err)
			return m
		}
		m.mapping = mapping
	}
	r.live++
	return m
}

// Reallocate implements experimental.LinearMemory.
func (m *linearMemory) Reallocate(size uint64) []byte {
	r := m.r
	b := r.budget
	b.mu.Lock()
	defer b.mu.Unlock()
	initial := !m.started
	m.started = true
	if m.freed {
		return nil
	}
	if size > m.limit {
		if initial {
			m.refused = fmt.Errorf("%w: plugin %q: initial linear memory %s exceeds its %s limit",
				ErrBudget, r.owner, FormatBytes(size), FormatBytes(m.limit))
		}
		return nil
	}
	if end := roundUp(size, osPage); end > m.committed {
		delta := end - m.committed
		if !initial && b.limit > 0 && b.committed+b.fixed+delta > b.limit {
			return nil
		}
		if err := commit(m.mapping[m.committed:end]); err != nil {
			// The kernel refused the commit (strict overcommit, a memory
			// cgroup at its limit): the guest's grow fails.
			if initial {
				m.refused = fmt.Errorf("%w: plugin %q: committing %s: %w", ErrBudget, r.owner, FormatBytes(end), err)
			}
			return nil
		}
		m.committed = end
		r.committed += delta
		b.committed += delta
	}
	return m.mapping[:size:size]
}

// Free implements experimental.LinearMemory. It is idempotent.
func (m *linearMemory) Free() {
	r := m.r
	b := r.budget
	b.mu.Lock()
	defer b.mu.Unlock()
	if m.freed {
		return
	}
	m.freed = true
	r.committed -= m.committed
	b.committed -= m.committed
	m.committed = 0
	if m.mapping != nil {
		// munmap of a whole mapping we created only fails on invalid
		// arguments, which would be a bug here, not a runtime condition.
		_ = release(m.mapping)
		m.mapping = nil
	}
	r.live--
	r.settle()
}

func roundUp(n, to uint64) uint64 {
	return (n + to - 1) / to * to
}
