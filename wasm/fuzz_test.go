package wasm_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/nriwasm/nriwasm/wasm"
)

// Loading arbitrary bytes never panics, under either engine, and fails
// only with the package's errors. The seeds in testdata/fuzz/FuzzCompile are
// the test guests and broken variants of them; on GOARCH=arm wazero itself
// panics on some malformed modules, which Compile and Instantiate recover.
func FuzzCompile(f *testing.F) {
	f.Add([]byte("\x00asm\x01\x00\x00\x00"))
	f.Add([]byte("\x00asm\x01\x00\x00\x00\x05\x03\x01\x00\x02"))
	engines := []wasm.Engine{wasm.Interpreter}
	if ok, _ := wasm.CompilerSupported(); ok {
		engines = append(engines, wasm.Compiler)
	}
	known := []error{wasm.ErrNotWasm, wasm.ErrABI, wasm.ErrMemory, wasm.ErrTrap, wasm.ErrDeadline, wasm.ErrBudget}
	f.Fuzz(func(t *testing.T, bin []byte) {
		ctx := context.Background()
		for _, engine := range engines {
			c := wasm.NewConfig().WithEngine(engine).WithMemoryLimit(1 << 20).
				WithStartTimeout(100 * time.Millisecond).
				WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
			err := load(ctx, bin, c)
			if err == nil {
				continue
			}
			found := false
			for _, k := range known {
				found = found || errors.Is(err, k)
			}
			if !found {
				t.Errorf("%s: error %v is none of the package's", engine, err)
			}
		}
	})
}
