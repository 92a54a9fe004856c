// Command v010 is a test guest (not shipped) of the NRI Wasm ABI before
// v0.12, built against containerd/nri v0.10.0. Besides the requests it
// exports only plugin_create_container, plugin_update_container,
// plugin_stop_container, plugin_update_pod_sandbox and plugin_validate_*;
// every other event reaches it through plugin_state_change.
//
// It logs each StateChange event through env.log and adds V010=1 to the
// environment of every container created.
//
// It is its own module so that the old API stays out of the plugins module.
package main

import (
	"context"

	"github.com/containerd/nri/pkg/api"
)

// main is never run: a c-shared module only runs its init functions.
func main() {}

type plugin struct {
	logf func(ctx context.Context, format string, args ...any)
}

var _ api.Plugin = (*plugin)(nil)

func (p *plugin) Configure(context.Context, *api.ConfigureRequest) (*api.ConfigureResponse, error) {
	var m api.EventMask
	// CreateContainer has its own export; the rest come as StateChange.
	m.Set(api.Event_CREATE_CONTAINER,
		api.Event_RUN_POD_SANDBOX, api.Event_POST_UPDATE_POD_SANDBOX, api.Event_STOP_POD_SANDBOX,
		api.Event_REMOVE_POD_SANDBOX, api.Event_POST_CREATE_CONTAINER, api.Event_START_CONTAINER,
		api.Event_POST_START_CONTAINER, api.Event_POST_UPDATE_CONTAINER, api.Event_REMOVE_CONTAINER)
	return &api.ConfigureResponse{Events: int32(m)}, nil
}

func (p *plugin) Synchronize(_ context.Context, req *api.SynchronizeRequest) (*api.SynchronizeResponse, error) {
	return &api.SynchronizeResponse{More: req.GetMore()}, nil
}

func (p *plugin) StateChange(ctx context.Context, ev *api.StateChangeEvent) (*api.Empty, error) {
	p.logf(ctx, "StateChange %s pod=%s/%s container=%s", ev.GetEvent(),
		ev.GetPod().GetNamespace(), ev.GetPod().GetName(), ev.GetContainer().GetName())
	return &api.Empty{}, nil
}

func (p *plugin) CreateContainer(context.Context, *api.CreateContainerRequest) (*api.CreateContainerResponse, error) {
	a := &api.ContainerAdjustment{}
	a.AddEnv("V010", "1")
	return &api.CreateContainerResponse{Adjust: a}, nil
}

// The events below are not subscribed to.

func (p *plugin) Shutdown(context.Context, *api.Empty) (*api.Empty, error) { return &api.Empty{}, nil }

func (p *plugin) UpdateContainer(context.Context, *api.UpdateContainerRequest) (*api.UpdateContainerResponse, error) {
	return &api.UpdateContainerResponse{}, nil
}

func (p *plugin) StopContainer(context.Context, *api.StopContainerRequest) (*api.StopContainerResponse, error) {
	return &api.StopContainerResponse{}, nil
}

func (p *plugin) UpdatePodSandbox(context.Context, *api.UpdatePodSandboxRequest) (*api.UpdatePodSandboxResponse, error) {
	return &api.UpdatePodSandboxResponse{}, nil
}

func (p *plugin) ValidateContainerAdjustment(context.Context, *api.ValidateContainerAdjustmentRequest) (*api.ValidateContainerAdjustmentResponse, error) {
	return &api.ValidateContainerAdjustmentResponse{}, nil
}
