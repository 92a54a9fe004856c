// Command skeleton is the size reference for the release budget in cross/targets.txt:
// the least a binary needs to be an NRI plugin host (pkg/stub) that runs a WASI guest
// under wazero. `make cross-skeleton` builds it with the release flags for every target;
// each nriwasm binary may be at most 1 MiB larger.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/containerd/nri/pkg/api"
	"github.com/containerd/nri/pkg/stub"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

type plugin struct{ r wazero.Runtime }

// CreateContainer keeps the wazero runtime reachable from a stub handler so the
// linker cannot drop either side.
func (p plugin) CreateContainer(ctx context.Context, _ *api.PodSandbox, _ *api.Container) (*api.ContainerAdjustment, []*api.ContainerUpdate, error) {
	if len(os.Args) > 1 {
		if _, err := p.r.Instantiate(ctx, []byte(os.Args[1])); err != nil {
			return nil, nil, err
		}
	}
	return nil, nil, nil
}

func main() {
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	s, err := stub.New(plugin{r}, stub.WithPluginName("skeleton"), stub.WithPluginIdx("00"))
	if err == nil {
		err = s.Run(ctx)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
