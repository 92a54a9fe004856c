// Command logger is an example NRI Wasm plugin that logs, through the host's
// log, one line for every pod and container lifecycle event it receives.
//
// Its config, when not blank, lists the events to log, separated by commas or
// blanks, by their NRI names (RunPodSandbox, CreateContainer, ...) in any
// case; by default it logs them all. It never subscribes to
// ValidateContainerAdjustment: a logger has no say in validation, and a
// validator is called on every container creation.
//
// Build it as a reactor, as every NRI Wasm plugin:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o 10-logger.wasm ./cmd/logger
package main

import (
	"context"
	"fmt"
	"strings"
	"unicode"

	"github.com/containerd/nri/pkg/api"
	"github.com/nriwasm/nriwasm/wasm/plugins/internal/guest"
)

// main is never run: a c-shared module only runs its init functions.
func main() {}

type plugin struct {
	guest.Unimplemented
	logf func(ctx context.Context, level api.LogRequest_Level, format string, args ...any)
}

var _ api.Plugin = (*plugin)(nil)

// lifecycle are the events the logger can log, in NRI's order.
var lifecycle = func() (events []api.Event) {
	for ev := api.Event_UNKNOWN + 1; ev < api.Event_LAST; ev++ {
		if ev != api.Event_VALIDATE_CONTAINER_ADJUSTMENT {
			events = append(events, ev)
		}
	}
	return events
}()

// parseEvents returns the events a config selects.
func parseEvents(config string) ([]api.Event, error) {
	names := strings.FieldsFunc(config, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
	if len(names) == 0 {
		return lifecycle, nil
	}
	var events []api.Event
	for _, name := range names {
		ev, ok := eventNamed(name)
		if !ok {
			valid := make([]string, len(lifecycle))
			for i, ev := range lifecycle {
				valid[i] = ev.PrettyName()
			}
			return nil, fmt.Errorf("logger: unknown event %q in config (want a comma-separated list of %s)",
				name, strings.Join(valid, ", "))
		}
		events = append(events, ev)
	}
	return events, nil
}

func eventNamed(name string) (api.Event, bool) {
	for _, ev := range lifecycle {
		if strings.EqualFold(name, ev.PrettyName()) {
			return ev, true
		}
	}
	return 0, false
}

func (p *plugin) Configure(_ context.Context, req *api.ConfigureRequest) (*api.ConfigureResponse, error) {
	events, err := parseEvents(req.GetConfig())
	if err != nil {
		return nil, err
	}
	return guest.Subscribe(events...), nil
}

// event logs one event; ctr is nil for pod events.
func (p *plugin) event(ctx context.Context, ev api.Event, pod *api.PodSandbox, ctr *api.Container) {
	line := ev.PrettyName() + " pod=" + guest.PodName(pod)
	if ctr != nil {
		line += " container=" + ctr.GetName()
	}
	p.logf(ctx, api.LogRequest_LEVEL_INFO, "%s", line)
}

func (p *plugin) RunPodSandbox(ctx context.Context, req *api.RunPodSandboxRequest) (*api.RunPodSandboxResponse, error) {
	p.event(ctx, api.Event_RUN_POD_SANDBOX, req.GetPod(), nil)
	return &api.RunPodSandboxResponse{}, nil
}

func (p *plugin) UpdatePodSandbox(ctx context.Context, req *api.UpdatePodSandboxRequest) (*api.UpdatePodSandboxResponse, error) {
	p.event(ctx, api.Event_UPDATE_POD_SANDBOX, req.GetPod(), nil)
	return &api.UpdatePodSandboxResponse{}, nil
}

func (p *plugin) PostUpdatePodSandbox(ctx context.Context, req *api.PostUpdatePodSandboxRequest) (*api.PostUpdatePodSandboxResponse, error) {
	p.event(ctx, api.Event_POST_UPDATE_POD_SANDBOX, req.GetPod(), nil)
	return &api.PostUpdatePodSandboxResponse{}, nil
}

func (p *plugin) StopPodSandbox(ctx context.Context, req *api.StopPodSandboxRequest) (*api.StopPodSandboxResponse, error) {
	p.event(ctx, api.Event_STOP_POD_SANDBOX, req.GetPod(), nil)
	return &api.StopPodSandboxResponse{}, nil
}

func (p *plugin) RemovePodSandbox(ctx context.Context, req *api.RemovePodSandboxRequest) (*api.RemovePodSandboxResponse, error) {
	p.event(ctx, api.Event_REMOVE_POD_SANDBOX, req.GetPod(), nil)
	return &api.RemovePodSandboxResponse{}, nil
}

func (p *plugin) CreateContainer(ctx context.Context, req *api.CreateContainerRequest) (*api.CreateContainerResponse, error) {
	p.event(ctx, api.Event_CREATE_CONTAINER, req.GetPod(), req.GetContainer())
	return &api.CreateContainerResponse{}, nil
}

func (p *plugin) PostCreateContainer(ctx context.Context, req *api.PostCreateContainerRequest) (*api.PostCreateContainerResponse, error) {
	p.event(ctx, api.Event_POST_CREATE_CONTAINER, req.GetPod(), req.GetContainer())
	return &api.PostCreateContainerResponse{}, nil
}

func (p *plugin) StartContainer(ctx context.Context, req *api.StartContainerRequest) (*api.StartContainerResponse, error) {
	p.event(ctx, api.Event_START_CONTAINER, req.GetPod(), req.GetContainer())
	return &api.StartContainerResponse{}, nil
}

func (p *plugin) PostStartContainer(ctx context.Context, req *api.PostStartContainerRequest) (*api.PostStartContainerResponse, error) {
	p.event(ctx, api.Event_POST_START_CONTAINER, req.GetPod(), req.GetContainer())
	return &api.PostStartContainerResponse{}, nil
}

func (p *plugin) UpdateContainer(ctx context.Context, req *api.UpdateContainerRequest) (*api.UpdateContainerResponse, error) {
	p.event(ctx, api.Event_UPDATE_CONTAINER, req.GetPod(), req.GetContainer())
	return &api.UpdateContainerResponse{}, nil
}

func (p *plugin) PostUpdateContainer(ctx context.Context, req *api.PostUpdateContainerRequest) (*api.PostUpdateContainerResponse, error) {
	p.event(ctx, api.Event_POST_UPDATE_CONTAINER, req.GetPod(), req.GetContainer())
	return &api.PostUpdateContainerResponse{}, nil
}

func (p *plugin) StopContainer(ctx context.Context, req *api.StopContainerRequest) (*api.StopContainerResponse, error) {
	p.event(ctx, api.Event_STOP_CONTAINER, req.GetPod(), req.GetContainer())
	return &api.StopContainerResponse{}, nil
}

func (p *plugin) RemoveContainer(ctx context.Context, req *api.RemoveContainerRequest) (*api.RemoveContainerResponse, error) {
	p.event(ctx, api.Event_REMOVE_CONTAINER, req.GetPod(), req.GetContainer())
	return &api.RemoveContainerResponse{}, nil
}
