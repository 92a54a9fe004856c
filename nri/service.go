package nri

import (
	"context"
	"fmt"

	"github.com/containerd/nri/pkg/api"

	"github.com/nriwasm/nriwasm/wasm"
)

// service is the NRI Plugin service of one registration: each request goes
// to the guest unchanged through relay, and the guest's response comes back
// unchanged.
type service struct{ r *Registration }

var _ api.PluginService = service{}

func (s service) Configure(ctx context.Context, req *api.ConfigureRequest) (*api.ConfigureResponse, error) {
	return s.r.configureGuest(ctx, req)
}

func (s service) Synchronize(ctx context.Context, req *api.SynchronizeRequest) (*api.SynchronizeResponse, error) {
	return s.r.synchronize(ctx, req)
}

// Shutdown is relayed if the guest exports it; runtimes do not send it today.
func (s service) Shutdown(ctx context.Context, req *api.Empty) (*api.Empty, error) {
	resp := &api.Empty{}
	if s.r.abi.Has(wasm.Shutdown) {
		if err := s.r.invoke(ctx, wasm.Shutdown, req, resp); err != nil {
			s.r.log.Warn("plugin Shutdown failed", "error", err)
		}
	}
	return &api.Empty{}, nil
}

func (s service) RunPodSandbox(ctx context.Context, req *api.RunPodSandboxRequest) (*api.RunPodSandboxResponse, error) {
	return relay(ctx, s.r, api.Event_RUN_POD_SANDBOX, req.Pod, nil, req, &api.RunPodSandboxResponse{})
}

func (s service) UpdatePodSandbox(ctx context.Context, req *api.UpdatePodSandboxRequest) (*api.UpdatePodSandboxResponse, error) {
	return relay(ctx, s.r, api.Event_UPDATE_POD_SANDBOX, req.Pod, nil, req, &api.UpdatePodSandboxResponse{})
}

func (s service) PostUpdatePodSandbox(ctx context.Context, req *api.PostUpdatePodSandboxRequest) (*api.PostUpdatePodSandboxResponse, error) {
	return relay(ctx, s.r, api.Event_POST_UPDATE_POD_SANDBOX, req.Pod, nil, req, &api.PostUpdatePodSandboxResponse{})
}

func (s service) StopPodSandbox(ctx context.Context, req *api.StopPodSandboxRequest) (*api.StopPodSandboxResponse, error) {
	return relay(ctx, s.r, api.Event_STOP_POD_SANDBOX, req.Pod, nil, req, &api.StopPodSandboxResponse{})
}

func (s service) RemovePodSandbox(ctx context.Context, req *api.RemovePodSandboxRequest) (*api.RemovePodSandboxResponse, error) {
	return relay(ctx, s.r, api.Event_REMOVE_POD_SANDBOX, req.Pod, nil, req, &api.RemovePodSandboxResponse{})
}

func (s service) CreateContainer(ctx context.Context, req *api.CreateContainerRequest) (*api.CreateContainerResponse, error) {
	return relay(ctx, s.r, api.Event_CREATE_CONTAINER, req.Pod, req.Container, req, &api.CreateContainerResponse{})
}

func (s service) PostCreateContainer(ctx context.Context, req *api.PostCreateContainerRequest) (*api.PostCreateContainerResponse, error) {
	return relay(ctx, s.r, api.Event_POST_CREATE_CONTAINER, req.Pod, req.Container, req, &api.PostCreateContainerResponse{})
}

func (s service) StartContainer(ctx context.Context, req *api.StartContainerRequest) (*api.StartContainerResponse, error) {
	return relay(ctx, s.r, api.Event_START_CONTAINER, req.Pod, req.Container, req, &api.StartContainerResponse{})
}

func (s service) PostStartContainer(ctx context.Context, req *api.PostStartContainerRequest) (*api.PostStartContainerResponse, error) {
	return relay(ctx, s.r, api.Event_POST_START_CONTAINER, req.Pod, req.Container, req, &api.PostStartContainerResponse{})
}

func (s service) UpdateContainer(ctx context.Context, req *api.UpdateContainerRequest) (*api.UpdateContainerResponse, error) {
	return relay(ctx, s.r, api.Event_UPDATE_CONTAINER, req.Pod, req.Container, req, &api.UpdateContainerResponse{})
}

func (s service) PostUpdateContainer(ctx context.Context, req *api.PostUpdateContainerRequest) (*api.PostUpdateContainerResponse, error) {
	return relay(ctx, s.r, api.Event_POST_UPDATE_CONTAINER, req.Pod, req.Container, req, &api.PostUpdateContainerResponse{})
}

func (s service) StopContainer(ctx context.Context, req *api.StopContainerRequest) (*api.StopContainerResponse, error) {
	return relay(ctx, s.r, api.Event_STOP_CONTAINER, req.Pod, req.Container, req, &api.StopContainerResponse{})
}

func (s service) RemoveContainer(ctx context.Context, req *api.RemoveContainerRequest) (*api.RemoveContainerResponse, error) {
	return relay(ctx, s.r, api.Event_REMOVE_CONTAINER, req.Pod, req.Container, req, &api.RemoveContainerResponse{})
}

// ValidateContainerAdjustment is only sent to guests that subscribed to it;
// a failure under on_error = "fail" rejects the adjustment.
func (s service) ValidateContainerAdjustment(ctx context.Context, req *api.ValidateContainerAdjustmentRequest) (*api.ValidateContainerAdjustmentResponse, error) {
	resp, err := relay(ctx, s.r, api.Event_VALIDATE_CONTAINER_ADJUSTMENT, req.Pod, req.Container, req, &api.ValidateContainerAdjustmentResponse{})
	if err != nil {
		return &api.ValidateContainerAdjustmentResponse{Reject: true, Reason: err.Error()}, nil
	}
	return resp, nil
}

// StateChange is how runtimes before NRI v0.12 deliver most events: it is
// turned into the event's own request, so one path serves both generations
// of runtimes and of guests.
func (s service) StateChange(ctx context.Context, req *api.StateChangeEvent) (*api.Empty, error) {
	pod, ctr := req.Pod, req.Container
	var err error
	switch req.Event {
	case api.Event_RUN_POD_SANDBOX:
		_, err = s.RunPodSandbox(ctx, &api.RunPodSandboxRequest{Pod: pod})
	case api.Event_POST_UPDATE_POD_SANDBOX:
		_, err = s.PostUpdatePodSandbox(ctx, &api.PostUpdatePodSandboxRequest{Pod: pod})
	case api.Event_STOP_POD_SANDBOX:
		_, err = s.StopPodSandbox(ctx, &api.StopPodSandboxRequest{Pod: pod})
	case api.Event_REMOVE_POD_SANDBOX:
		_, err = s.RemovePodSandbox(ctx, &api.RemovePodSandboxRequest{Pod: pod})
	case api.Event_POST_CREATE_CONTAINER:
		_, err = s.PostCreateContainer(ctx, &api.PostCreateContainerRequest{Pod: pod, Container: ctr})
	case api.Event_START_CONTAINER:
		_, err = s.StartContainer(ctx, &api.StartContainerRequest{Pod: pod, Container: ctr})
	case api.Event_POST_START_CONTAINER:
		_, err = s.PostStartContainer(ctx, &api.PostStartContainerRequest{Pod: pod, Container: ctr})
	case api.Event_POST_UPDATE_CONTAINER:
		_, err = s.PostUpdateContainer(ctx, &api.PostUpdateContainerRequest{Pod: pod, Container: ctr})
	case api.Event_REMOVE_CONTAINER:
		_, err = s.RemoveContainer(ctx, &api.RemoveContainerRequest{Pod: pod, Container: ctr})
	default:
		err = fmt.Errorf("nriwasm plugin %s: StateChange carries %s, which is not a state change", s.r.Name(), req.Event.PrettyName())
	}
	return &api.Empty{}, err
}
