package testplugins

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Usage is what the test process holds: the leak checks of the fault and
// soak tests compare it before and after thousands of failures.
type Usage struct {
	Goroutines int
	FDs        int
	RSS        uint64 // resident memory, bytes
}

func (u Usage) String() string {
	return fmt.Sprintf("%d goroutines, %d fds, RSS %.1f MiB", u.Goroutines, u.FDs, float64(u.RSS)/(1<<20))
}

// Measure collects garbage, returns freed memory to the OS, then reads the
// process's usage.
func Measure(tb testing.TB) Usage {
	tb.Helper()
	runtime.GC()
	debug.FreeOSMemory()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		tb.Fatal(err)
	}
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		tb.Fatal(err)
	}
	u := Usage{Goroutines: runtime.NumGoroutine(), FDs: len(fds)}
	for line := range strings.Lines(string(status)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				tb.Fatalf("VmRSS: %v", err)
			}
			u.RSS = kb << 10
		}
	}
	return u
}

// Within waits until the usage is at most base plus slack in every field,
// as goroutines and connections of failed calls wind down, and fails the
// test if it does not get there. The wait is a hang detector: it gives up
// after a minute. It returns the last measurement. Under the race detector
// RSS is not compared.
func Within(tb testing.TB, base, slack Usage) Usage {
	tb.Helper()
	if race {
		slack.RSS = math.MaxUint64 - base.RSS
	}
	deadline := time.Now().Add(time.Minute)
	for {
		u := Measure(tb)
		if u.Goroutines <= base.Goroutines+slack.Goroutines && u.FDs <= base.FDs+slack.FDs && u.RSS <= base.RSS+slack.RSS {
			return u
		}
		if time.Now().After(deadline) {
			tb.Fatalf("usage %v; baseline %v, slack %v", u, base, slack)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Long reports whether the long fault and soak runs are asked for
// (NRIWASM_LONG=1, `make test-faults`).
func Long() bool { return os.Getenv("NRIWASM_LONG") == "1" }

// Rounds is quick, or long in the long runs.
func Rounds(quick, long int) int {
	if Long() {
		return long
	}
	return quick
}

// WithData appends to mod, a module without a data section (such as the
// "empty" guest), one active data segment of size zero bytes at address 0:
// a module far larger than the memory it declares.
func WithData(mod []byte, size int) []byte {
	body := binary.AppendUvarint([]byte{1, 0, 0x41, 0, 0x0b}, uint64(size)) // 1 segment, memory 0, i32.const 0, end
	body = append(body, make([]byte, size)...)
	out := binary.AppendUvarint(append(slices.Clip(mod), 11), uint64(len(body)))
	return append(out, body...)
}
