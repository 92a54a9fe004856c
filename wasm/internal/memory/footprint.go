package memory

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
)

// ErrProc is wrapped when /proc cannot be read or parsed.
var ErrProc = errors.New("memory: /proc")

// Range is a half-open range of addresses.
type Range struct{ Start, End uint64 }

// ExecMappings lists the executable anonymous mappings of this process:
// wazero's compiler maps machine code RX that way, so the address space that
// becomes executable around CompileModule is the module's code. It needs
// Linux's /proc.
func ExecMappings() ([]Range, error) {
	const path = "/proc/self/maps"
	if runtime.GOOS != "linux" {
		return nil, fmt.Errorf("%w: %s on %s: %w", ErrProc, path, runtime.GOOS, errors.ErrUnsupported)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrProc, err)
	}
	defer f.Close()
	m, err := execMappings(f)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrProc, path, err)
	}
	return m, nil
}

// NewBytes is the size of the address space in after that was not in
// before. It is immune to the kernel merging adjacent mappings into one and
// to mappings going away in between (code of closed modules, unmapped by
// the garbage collector).
func NewBytes(before, after []Range) uint64 {
	var n uint64
	for _, a := range after {
		n += a.End - a.Start
		for _, b := range before {
			if lo, hi := max(a.Start, b.Start), min(a.End, b.End); lo < hi {
				n -= hi - lo
			}
		}
	}
	return n
}

// HeapInUse is the bytes of live Go heap objects after a full GC. The
// interpreter keeps a module's IR on the heap, so the difference around
// CompileModule is its code footprint. The GC makes it slow: measure, don't
// poll.
func HeapInUse() uint64 {
	runtime.GC()
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// execMappings parses /proc/PID/maps lines ("start-end perms offset dev
// inode [path]") and keeps those that are executable, have no inode and no
// path ([vdso] and files are excluded).
func execMappings(r io.Reader) ([]Range, error) {
	var m []Range
	s := bufio.NewScanner(r)
	for line := 1; s.Scan(); line++ {
		f := strings.Fields(s.Text())
		if len(f) < 5 {
			return nil, fmt.Errorf("line %d: %q: want at least 5 fields", line, s.Text())
		}
		if len(f) > 5 || f[4] != "0" || !strings.Contains(f[1], "x") {
			continue
		}
		lo, hi, ok := strings.Cut(f[0], "-")
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if !ok || err1 != nil || err2 != nil || end < start {
			return nil, fmt.Errorf("line %d: address range %q: want hex start-end", line, f[0])
		}
		m = append(m, Range{start, end})
	}
	return m, s.Err()
}

// FormatBytes renders n in binary units with at most one decimal:
// "512 KiB", "41.5 MiB", "100 B".
func FormatBytes(n uint64) string {
	const units = "KMGTPE"
	if n < 1<<10 {
		return strconv.FormatUint(n, 10) + " B"
	}
	i := 0
	for i < len(units)-1 && n >= 1<<(10*(i+2)) {
		i++
	}
	v := float64(n) / float64(uint64(1)<<(10*(i+1)))
	s := strconv.FormatFloat(v, 'f', 1, 64)
	return strings.TrimSuffix(s, ".0") + " " + units[i:i+1] + "iB"
}
