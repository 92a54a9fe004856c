package wasm

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
	"syscall"

	"github.com/tetratelabs/wazero"
	"golang.org/x/sys/cpu"
)

// Engine selects how wazero runs guest code.
type Engine string

const (
	// Auto picks the compiler where it is supported, the interpreter elsewhere.
	Auto Engine = "auto"
	// Compiler translates guests to machine code (amd64 with SSE4.1, arm64).
	Compiler Engine = "compiler"
	// Interpreter runs guests everywhere, 30-100x slower than the compiler.
	Interpreter Engine = "interpreter"
)

// Resolve turns Auto into the engine this machine runs and refuses a compiler
// that cannot run here: wazero panics instead of failing in that case.
func (e Engine) Resolve() (Engine, error) {
	switch e {
	case Auto, "":
		if ok, _ := CompilerSupported(); ok {
			return Compiler, nil
		}
		return Interpreter, nil
	case Compiler:
		if ok, why := CompilerSupported(); !ok {
			return "", fmt.Errorf("%w: compiler on %s: %s; use engine = \"interpreter\" or \"auto\"", ErrEngine, runtime.GOARCH, why)
		}
		return Compiler, nil
	case Interpreter:
		return Interpreter, nil
	}
	return "", fmt.Errorf("%w: unknown engine %q, want auto, compiler or interpreter", ErrEngine, string(e))
}

func (e Engine) runtimeConfig() wazero.RuntimeConfig {
	if e == Compiler {
		return wazero.NewRuntimeConfigCompiler()
	}
	return wazero.NewRuntimeConfigInterpreter()
}

var compilerSupport = sync.OnceValues(func() (bool, string) {
	switch {
	case runtime.GOARCH == "amd64" && !cpu.X86.HasSSE41:
		return false, "the CPU lacks SSE4.1"
	case runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64":
		return false, "wazero has no compiler for this architecture"
	}
	// The compiler needs memory it can make executable; MemoryDenyWriteExecute
	// and some seccomp profiles forbid that.
	page, err := syscall.Mmap(-1, 0, syscall.Getpagesize(), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return false, fmt.Sprintf("mmap: %v", err)
	}
	defer syscall.Munmap(page)
	if err := syscall.Mprotect(page, syscall.PROT_READ|syscall.PROT_EXEC); err != nil {
		return false, fmt.Sprintf("executable memory is forbidden (mprotect: %v)", err)
	}
	return true, ""
})

// CompilerSupported reports whether wazero's compiler can run on this machine,
// and why not.
func CompilerSupported() (bool, string) { return compilerSupport() }

// WazeroVersion is the version of wazero linked into this binary.
func WazeroVersion() string { return moduleVersion("github.com/tetratelabs/wazero") }

// NRIVersion is the version of containerd/nri (the ABI and protocol) linked
// into this binary.
func NRIVersion() string { return moduleVersion("github.com/containerd/nri") }

func moduleVersion(path string) string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, d := range info.Deps {
			if d.Path == path {
				if d.Replace != nil {
					return d.Replace.Version
				}
				return d.Version
			}
		}
	}
	return "unknown"
}
