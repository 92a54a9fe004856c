package wasm_test

import (
	"context"
	"testing"
	"time"

	"github.com/containerd/nri/pkg/api"

	"github.com/nriwasm/nriwasm/wasm"
)

// A guest reaches no host file, no environment, no arguments and no
// socket: the sandbox guest probes each with direct WASI calls.
func TestSandbox(t *testing.T) {
	p := newPlugin(t, "sandbox", cfg(t, nil), nil)
	if err := p.Call(context.Background(), wasm.Configure, &api.ConfigureRequest{}, &api.ConfigureResponse{}); err != nil {
		t.Fatal(err)
	}
	resp, err := create(t, p, 30*time.Second, "")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, kv := range resp.GetAdjust().GetEnv() {
		got[kv.Key] = kv.Value
	}
	const ebadf = "8" // WASI errno: not an open file descriptor
	for key, want := range map[string]string{
		"SANDBOX_PREOPEN":     ebadf, // no directory is preopened
		"SANDBOX_PATH_OPEN":   ebadf, // so there is nothing to open a path in
		"SANDBOX_ENVIRON":     "0",
		"SANDBOX_ARGS":        "0",
		"SANDBOX_SOCK_ACCEPT": ebadf, // no listening socket among fds 3 to 9
	} {
		if got[key] != want {
			t.Errorf("%s = %q, want %q", key, got[key], want)
		}
	}
	if got["SANDBOX_OS_OPEN"] == "" {
		t.Error(`os.Open("/etc/passwd") succeeded in the guest`)
	}
	if got["SANDBOX_SOCK_SEND"] == "0" {
		t.Error("sock_send on stdout succeeded")
	}
	t.Logf("probes: %v", got)
}
