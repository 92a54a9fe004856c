package cli

import (
	"fmt"
	"runtime"

	"github.com/nriwasm/nriwasm/wasm"
)

// Version is `nriwasm version`.
func Version(env Env) {
	engine := string(wasm.Compiler)
	if ok, why := wasm.CompilerSupported(); !ok {
		engine = string(wasm.Interpreter) + " (" + why + ")"
	}
	fmt.Fprintf(env.Stdout, "nriwasm %s\n", env.Version)
	fmt.Fprintf(env.Stdout, "go:      %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(env.Stdout, "engine:  %s (what engine = \"auto\" picks here)\n", engine)
	fmt.Fprintf(env.Stdout, "wazero:  %s\n", wasm.WazeroVersion())
	fmt.Fprintf(env.Stdout, "nri:     %s\n", wasm.NRIVersion())
}
