// Package testutil holds the helpers that tests of several packages share.
package testutil

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// ShortDir is a new directory removed at the end of the test, with a short
// path: a UNIX socket's path is limited to 108 bytes, and t.TempDir's can be
// longer.
func ShortDir(tb testing.TB) string {
	tb.Helper()
	dir, err := os.MkdirTemp("", "nriwasm-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	// nriwasm refuses configuration in group- or world-writable directories.
	if err := os.Chmod(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	return dir
}

// ProcStatus reads a "Name: N kB" field of /proc/PID/status (pid 0: this
// process), in bytes: VmRSS, VmHWM.
func ProcStatus(tb testing.TB, pid int, field string) uint64 {
	tb.Helper()
	path := "/proc/self/status"
	if pid != 0 {
		path = fmt.Sprintf("/proc/%d/status", pid)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				tb.Fatalf("%s: %s %q", path, field, v)
			}
			return kb << 10
		}
	}
	tb.Fatalf("no %s in %s", field, path)
	return 0
}

// Buffer is a bytes.Buffer that a process or logger may write while the
// test reads it.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
