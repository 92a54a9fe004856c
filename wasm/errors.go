package wasm

import (
	"errors"
	"fmt"
)

var (
	// ErrNotWasm is returned for input that is not a WebAssembly 1.0 binary.
	ErrNotWasm = errors.New("wasm: not a WebAssembly module")
	// ErrABI is returned for a module that does not implement the NRI plugin ABI.
	ErrABI = errors.New("wasm: not an NRI plugin")
	// ErrEngine is returned when the requested engine cannot run here.
	ErrEngine = errors.New("wasm: engine unavailable")
	// ErrMemory is returned when a module cannot fit its memory limit.
	ErrMemory = errors.New("wasm: memory limit")
	// ErrIntegrity is returned when a module does not match its pinned digest.
	ErrIntegrity = errors.New("wasm: sha256 mismatch")

	// ErrTrap is returned when the guest trapped (unreachable, a Go panic,
	// an out-of-bounds access, stack exhaustion, exit). The instance is discarded.
	ErrTrap = errors.New("wasm: plugin trapped")
	// ErrDeadline is returned when a call did not finish before its deadline.
	ErrDeadline = errors.New("wasm: plugin deadline exceeded")
	// ErrResponse is returned when the guest's result breaks the ABI
	// (outside memory, too large, not the expected message). The instance is
	// discarded.
	ErrResponse = errors.New("wasm: malformed plugin response")
	// ErrClosed is returned by calls on a closed Plugin.
	ErrClosed = errors.New("wasm: plugin closed")
)

// PluginError is an error the guest itself returned (bit 31 of the result
// length set). The instance stays healthy.
type PluginError struct {
	Message string
}

func (e *PluginError) Error() string { return fmt.Sprintf("plugin error: %s", e.Message) }

// fatal reports whether err means the instance must not be called again.
func fatal(err error) bool {
	return errors.Is(err, ErrTrap) || errors.Is(err, ErrDeadline) || errors.Is(err, ErrResponse)
}
