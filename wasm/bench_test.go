package wasm_test

import (
	"context"
	"testing"
	"time"

	"github.com/containerd/nri/pkg/api"

	"github.com/nriwasm/nriwasm/wasm"
)

// BenchmarkCreateContainer is the cost of one CreateContainer call into a
// guest, host side included, without the runtime and the socket: the 10 MB
// Go injector against the same injector in C.
func BenchmarkCreateContainer(b *testing.B) {
	req := &api.CreateContainerRequest{
		Pod: &api.PodSandbox{Id: "pod-0001", Name: "demo", Namespace: "default", Uid: "8f2c9d4e",
			Labels: map[string]string{"app": "demo"}, Annotations: map[string]string{"a": "b", "c": "d"}},
		Container: &api.Container{Id: "ctr-0001", PodSandboxId: "pod-0001", Name: "app",
			Args: []string{"/bin/app", "--serve"}, Env: []string{"PATH=/usr/bin:/bin"}, Labels: map[string]string{"x": "y"}},
	}
	for _, guest := range []string{"injector", "cinjector"} {
		b.Run(guest, func(b *testing.B) {
			m, err := wasm.Compile(context.Background(), guest, read(b, guest), cfg(b, nil))
			if err != nil {
				b.Fatal(err)
			}
			p := wasm.NewPlugin(m, nil)
			defer p.Close(context.Background())
			if err := p.Call(context.Background(), wasm.Configure, &api.ConfigureRequest{Config: "env A=1\nannotation b=2"}, &api.ConfigureResponse{}); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				if err := p.Call(ctx, wasm.CreateContainer, req, &api.CreateContainerResponse{}); err != nil {
					b.Fatal(err)
				}
				cancel()
			}
		})
	}
}
