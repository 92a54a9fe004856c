//go:build !linux

package memory

import (
	"errors"
	"math"
)

// reserve, without Linux's mmap, allocates the whole reservation from the Go
// heap up front. The base address still never moves and nothing is copied,
// but the memory counts against the Go heap (GOGC, GOMEMLIMIT) from the start.
func reserve(n uint64) ([]byte, error) {
	if n > math.MaxInt {
		return nil, errors.New("reservation larger than the address space")
	}
	return make([]byte, n), nil
}

func commit([]byte) error { return nil }

func release([]byte) error { return nil }
