package sim

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/containerd/nri/pkg/api"
	"google.golang.org/protobuf/proto"
)

// Event sends one lifecycle event to the plugins through pkg/adaptation, as
// containerd does, and returns the runtime's merged result: the response for
// the events that have one, an empty message for the others. res are the
// new resources of UpdateContainer and UpdatePodSandbox (nil: unchanged).
//
// The runtime's bookkeeping follows: CreateContainer applies the merged
// adjustment to the container (environment, annotations, arguments,
// rlimits), so later events carry the adjusted container.
func (r *Runtime) Event(ctx context.Context, ev api.Event, pod *api.PodSandbox, ctr *api.Container, res *api.LinuxResources) (proto.Message, error) {
	nri, err := r.adaptation()
	if err != nil {
		return nil, err
	}
	empty := &api.Empty{}
	switch ev {
	case api.Event_RUN_POD_SANDBOX:
		r.setPod(pod, false)
		return empty, nri.RunPodSandbox(ctx, &api.RunPodSandboxRequest{Pod: pod})
	case api.Event_UPDATE_POD_SANDBOX:
		if pod.Linux == nil {
			pod.Linux = &api.LinuxPodSandbox{}
		}
		pod.Linux.PodResources = res
		r.setPod(pod, false)
		return nri.UpdatePodSandbox(ctx, &api.UpdatePodSandboxRequest{Pod: pod, LinuxResources: res})
	case api.Event_POST_UPDATE_POD_SANDBOX:
		return empty, nri.PostUpdatePodSandbox(ctx, &api.PostUpdatePodSandboxRequest{Pod: pod})
	case api.Event_STOP_POD_SANDBOX:
		return empty, nri.StopPodSandbox(ctx, &api.StopPodSandboxRequest{Pod: pod})
	case api.Event_REMOVE_POD_SANDBOX:
		r.setPod(pod, true)
		return empty, nri.RemovePodSandbox(ctx, &api.RemovePodSandboxRequest{Pod: pod})
	case api.Event_CREATE_CONTAINER:
		ctr.State = api.ContainerState_CONTAINER_CREATED
		resp, err := nri.CreateContainer(ctx, &api.CreateContainerRequest{Pod: pod, Container: ctr})
		if err == nil {
			apply(ctr, resp.GetAdjust())
			r.setContainer(ctr, false)
		}
		return resp, err
	case api.Event_POST_CREATE_CONTAINER:
		return empty, nri.PostCreateContainer(ctx, &api.PostCreateContainerRequest{Pod: pod, Container: ctr})
	case api.Event_START_CONTAINER:
		ctr.State = api.ContainerState_CONTAINER_RUNNING
		r.setContainer(ctr, false)
		return empty, nri.StartContainer(ctx, &api.StartContainerRequest{Pod: pod, Container: ctr})
	case api.Event_POST_START_CONTAINER:
		return empty, nri.PostStartContainer(ctx, &api.PostStartContainerRequest{Pod: pod, Container: ctr})
	case api.Event_UPDATE_CONTAINER:
		resp, err := nri.UpdateContainer(ctx, &api.UpdateContainerRequest{Pod: pod, Container: ctr, LinuxResources: res})
		if err == nil && res != nil {
			if ctr.Linux == nil {
				ctr.Linux = &api.LinuxContainer{}
			}
			ctr.Linux.Resources = res
			r.setContainer(ctr, false)
		}
		return resp, err
	case api.Event_POST_UPDATE_CONTAINER:
		return empty, nri.PostUpdateContainer(ctx, &api.PostUpdateContainerRequest{Pod: pod, Container: ctr})
	case api.Event_STOP_CONTAINER:
		ctr.State = api.ContainerState_CONTAINER_STOPPED
		r.setContainer(ctr, false)
		return nri.StopContainer(ctx, &api.StopContainerRequest{Pod: pod, Container: ctr})
	case api.Event_REMOVE_CONTAINER:
		r.setContainer(ctr, true)
		return empty, nri.RemoveContainer(ctx, &api.RemoveContainerRequest{Pod: pod, Container: ctr})
	}
	return nil, fmt.Errorf("%w: %s is not a lifecycle event", ErrRuntime, ev.PrettyName())
}

// apply makes the container what the runtime would create from the merged
// adjustment, for the parts plugins commonly adjust.
func apply(ctr *api.Container, adj *api.ContainerAdjustment) {
	if adj == nil {
		return
	}
	if len(adj.Args) > 0 {
		ctr.Args = slices.Clone(adj.Args)
	}
	for k, v := range adj.Annotations {
		if ctr.Annotations == nil {
			ctr.Annotations = map[string]string{}
		}
		if key, removed := api.IsMarkedForRemoval(k); removed {
			delete(ctr.Annotations, key)
		} else {
			ctr.Annotations[k] = v
		}
	}
	env := map[string]string{}
	var order []string
	for _, kv := range ctr.Env {
		k, v, _ := strings.Cut(kv, "=")
		if _, seen := env[k]; !seen {
			order = append(order, k)
		}
		env[k] = v
	}
	for _, kv := range adj.Env {
		if key, removed := api.IsMarkedForRemoval(kv.Key); removed {
			delete(env, key)
			continue
		}
		if _, seen := env[kv.Key]; !seen {
			order = append(order, kv.Key)
		}
		env[kv.Key] = kv.Value
	}
	ctr.Env = ctr.Env[:0]
	for _, k := range order {
		if v, ok := env[k]; ok {
			ctr.Env = append(ctr.Env, k+"="+v)
		}
	}
	byType := map[string]*api.POSIXRlimit{}
	for _, l := range ctr.Rlimits {
		byType[l.Type] = l
	}
	for _, l := range adj.Rlimits {
		byType[l.Type] = l
	}
	ctr.Rlimits = slices.SortedFunc(maps.Values(byType), func(a, b *api.POSIXRlimit) int { return strings.Compare(a.Type, b.Type) })
}
