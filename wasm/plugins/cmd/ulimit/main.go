// Command ulimit is an example NRI Wasm plugin that sets the rlimits a pod
// asks for in its annotations, in the format of containerd/nri's native
// ulimit-adjuster (see internal/ulimit). It takes no config.
//
// An invalid annotation fails the container's creation, as it does with the
// native plugin: silently running the container without its limits would
// hide the mistake.
package main

import (
	"context"

	"github.com/containerd/nri/pkg/api"
	"github.com/nriwasm/nriwasm/wasm/plugins/internal/guest"
	"github.com/nriwasm/nriwasm/wasm/plugins/internal/ulimit"
)

// main is never run: a c-shared module only runs its init functions.
func main() {}

type plugin struct{ guest.Unimplemented }

var _ api.Plugin = plugin{}

func (plugin) Configure(context.Context, *api.ConfigureRequest) (*api.ConfigureResponse, error) {
	return guest.Subscribe(api.Event_CREATE_CONTAINER), nil
}

func (plugin) CreateContainer(_ context.Context, req *api.CreateContainerRequest) (*api.CreateContainerResponse, error) {
	adjust, err := ulimit.Adjust(req.GetPod(), req.GetContainer().GetName())
	if err != nil {
		return nil, err
	}
	return &api.CreateContainerResponse{Adjust: adjust}, nil
}
