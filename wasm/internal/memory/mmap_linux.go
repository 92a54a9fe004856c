//go:build linux

package memory

import (
	"math"
	"syscall"
)

// reserve maps n bytes of address space that cost nothing until committed:
// PROT_NONE private anonymous memory is neither charged to the overcommit
// account nor backed by pages.
func reserve(n uint64) ([]byte, error) {
	if n > math.MaxInt {
		return nil, syscall.ENOMEM
	}
	return syscall.Mmap(-1, 0, int(n), syscall.PROT_NONE,
		syscall.MAP_PRIVATE|syscall.MAP_ANONYMOUS|syscall.MAP_NORESERVE)
}

// commit makes b (page-aligned, inside a reservation) readable and writable;
// its pages are zero-filled on first touch.
func commit(b []byte) error {
	return syscall.Mprotect(b, syscall.PROT_READ|syscall.PROT_WRITE)
}

// release unmaps a whole reservation, returning its pages to the system.
func release(mapping []byte) error {
	return syscall.Munmap(mapping)
}
