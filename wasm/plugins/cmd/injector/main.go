// Command injector is an example NRI Wasm plugin that adds the environment
// variables and annotations of its config to every container created. The
// config format is described in internal/inject; demo.conf is an example.
//
// A config error fails Configure, so the runtime refuses the plugin instead of
// running it with half a config.
package main

import (
	"context"

	"github.com/containerd/nri/pkg/api"
	"github.com/nriwasm/nriwasm/wasm/plugins/internal/guest"
	"github.com/nriwasm/nriwasm/wasm/plugins/internal/inject"
)

// main is never run: a c-shared module only runs its init functions.
func main() {}

type plugin struct {
	guest.Unimplemented
	cfg inject.Config
}

var _ api.Plugin = (*plugin)(nil)

func (p *plugin) Configure(_ context.Context, req *api.ConfigureRequest) (*api.ConfigureResponse, error) {
	cfg, err := inject.Parse(req.GetConfig())
	if err != nil {
		return nil, err
	}
	p.cfg = *cfg
	return guest.Subscribe(api.Event_CREATE_CONTAINER), nil
}

func (p *plugin) CreateContainer(context.Context, *api.CreateContainerRequest) (*api.CreateContainerResponse, error) {
	return &api.CreateContainerResponse{Adjust: p.cfg.Adjustment()}, nil
}
