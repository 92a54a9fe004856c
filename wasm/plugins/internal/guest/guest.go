// Package guest holds what every example NRI Wasm plugin shares: empty
// handlers for the events a plugin does not subscribe to, and logging through
// the host's env.log import.
//
// The api.Plugin interface of containerd/nri has one method per event and the
// plugin must implement all of them, although the host only calls the ones
// selected by the event mask that Configure returns. Embedding Unimplemented
// supplies the rest. It deliberately has no Configure: every plugin must
// declare its own event mask (mask 0 would subscribe it to every event,
// including validation).
package guest

import (
	"context"

	"github.com/containerd/nri/pkg/api"
)

// Unimplemented answers every event except Configure with an empty response.
type Unimplemented struct{}

// Synchronize echoes More: the runtime sends large states in chunks and
// expects updates only in the reply to the last one.
func (Unimplemented) Synchronize(_ context.Context, req *api.SynchronizeRequest) (*api.SynchronizeResponse, error) {
	return &api.SynchronizeResponse{More: req.GetMore()}, nil
}

func (Unimplemented) Shutdown(context.Context, *api.Empty) (*api.Empty, error) {
	return &api.Empty{}, nil
}

func (Unimplemented) RunPodSandbox(context.Context, *api.RunPodSandboxRequest) (*api.RunPodSandboxResponse, error) {
	return &api.RunPodSandboxResponse{}, nil
}

func (Unimplemented) UpdatePodSandbox(context.Context, *api.UpdatePodSandboxRequest) (*api.UpdatePodSandboxResponse, error) {
	return &api.UpdatePodSandboxResponse{}, nil
}

func (Unimplemented) PostUpdatePodSandbox(context.Context, *api.PostUpdatePodSandboxRequest) (*api.PostUpdatePodSandboxResponse, error) {
	return &api.PostUpdatePodSandboxResponse{}, nil
}

func (Unimplemented) StopPodSandbox(context.Context, *api.StopPodSandboxRequest) (*api.StopPodSandboxResponse, error) {
	return &api.StopPodSandboxResponse{}, nil
}

func (Unimplemented) RemovePodSandbox(context.Context, *api.RemovePodSandboxRequest) (*api.RemovePodSandboxResponse, error) {
	return &api.RemovePodSandboxResponse{}, nil
}

func (Unimplemented) CreateContainer(context.Context, *api.CreateContainerRequest) (*api.CreateContainerResponse, error) {
	return &api.CreateContainerResponse{}, nil
}

func (Unimplemented) PostCreateContainer(context.Context, *api.PostCreateContainerRequest) (*api.PostCreateContainerResponse, error) {
	return &api.PostCreateContainerResponse{}, nil
}

func (Unimplemented) StartContainer(context.Context, *api.StartContainerRequest) (*api.StartContainerResponse, error) {
	return &api.StartContainerResponse{}, nil
}

func (Unimplemented) PostStartContainer(context.Context, *api.PostStartContainerRequest) (*api.PostStartContainerResponse, error) {
	return &api.PostStartContainerResponse{}, nil
}

func (Unimplemented) UpdateContainer(context.Context, *api.UpdateContainerRequest) (*api.UpdateContainerResponse, error) {
	return &api.UpdateContainerResponse{}, nil
}

func (Unimplemented) PostUpdateContainer(context.Context, *api.PostUpdateContainerRequest) (*api.PostUpdateContainerResponse, error) {
	return &api.PostUpdateContainerResponse{}, nil
}

func (Unimplemented) StopContainer(context.Context, *api.StopContainerRequest) (*api.StopContainerResponse, error) {
	return &api.StopContainerResponse{}, nil
}

func (Unimplemented) RemoveContainer(context.Context, *api.RemoveContainerRequest) (*api.RemoveContainerResponse, error) {
	return &api.RemoveContainerResponse{}, nil
}

func (Unimplemented) StateChange(context.Context, *api.StateChangeEvent) (*api.Empty, error) {
	return &api.Empty{}, nil
}

func (Unimplemented) ValidateContainerAdjustment(context.Context, *api.ValidateContainerAdjustmentRequest) (*api.ValidateContainerAdjustmentResponse, error) {
	return &api.ValidateContainerAdjustmentResponse{}, nil
}

// Subscribe is a Configure reply that subscribes to events. It must name at
// least one: an empty mask would subscribe the plugin to every event.
func Subscribe(events ...api.Event) *api.ConfigureResponse {
	var m api.EventMask
	m.Set(events...)
	return &api.ConfigureResponse{Events: int32(m)}
}

// PodName is "namespace/name", the way kubectl names a pod in log lines.
func PodName(pod *api.PodSandbox) string {
	return pod.GetNamespace() + "/" + pod.GetName()
}
