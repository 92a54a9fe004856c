package memory

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strings"
)

// ErrAddressSpace is wrapped when guest memory cannot fit a 32-bit process.
var ErrAddressSpace = errors.New("memory: guest memory does not fit a 32-bit address space")

// AddressSpaceCeiling32 is the most address space all guest memory
// reservations together may take on a 32-bit GOARCH.
//
// A 32-bit Linux process has 3 GiB of user address space at best (2 GiB with
// the VMSPLIT_2G kernels common on ARM boards), shared with the binary, the Go
// heap (which holds the interpreter's IR, 160-200 MiB for a 10 MB Go guest),
// goroutine and thread stacks and libraries, and it fragments: every linear
// memory needs one contiguous range of its full limit. 1 GiB for guests leaves
// at least as much again for everything else on a 2 GiB split; without limits
// the host died near 700 MiB of guest memory on arm (FACTS.md).
const AddressSpaceCeiling32 = 1 << 30

// arch32 lists the 32-bit GOARCH values (go/build's known list).
var arch32 = map[string]bool{
	"386": true, "amd64p32": true, "arm": true, "armbe": true, "mips": true, "mipsle": true,
	"mips64p32": true, "mips64p32le": true, "ppc": true, "riscv": true, "s390": true, "sparc": true,
}

// CheckAddressSpace refuses, on a 32-bit arch (callers pass runtime.GOARCH),
// an unlimited budget (0), a budget above AddressSpaceCeiling32, and
// per-plugin memory limits whose sum is above it (each plugin's linear
// memory reserves its whole limit of address space). It accepts anything on
// 64-bit arches.
func CheckAddressSpace(arch string, budget uint64, limits []uint64) error {
	if !arch32[arch] {
		return nil
	}
	ceiling := FormatBytes(AddressSpaceCeiling32)
	switch {
	case budget == 0:
		return fmt.Errorf("%w: memory_budget is 0 (unlimited) on GOARCH=%s; set memory_budget to at most %s",
			ErrAddressSpace, arch, ceiling)
	case budget > AddressSpaceCeiling32:
		return fmt.Errorf("%w: memory_budget %s is above the %s ceiling on GOARCH=%s; set memory_budget to at most %s",
			ErrAddressSpace, FormatBytes(budget), ceiling, arch, ceiling)
	}
	var sum uint64
	terms := make([]string, len(limits))
	for i, l := range limits {
		var carry uint64
		if sum, carry = bits.Add64(sum, l, 0); carry != 0 {
			sum = math.MaxUint64
		}
		terms[i] = FormatBytes(l)
	}
	if sum > AddressSpaceCeiling32 {
		return fmt.Errorf("%w: plugin memory_limit values add up to %s (%s), above the %s ceiling on GOARCH=%s; lower memory_limit so they total at most %s",
			ErrAddressSpace, FormatBytes(sum), strings.Join(terms, " + "), ceiling, arch, ceiling)
	}
	return nil
}
