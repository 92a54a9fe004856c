package sim

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/containerd/nri/pkg/api"
	"google.golang.org/protobuf/proto"
)

// ErrScenario is wrapped by every error about a scenario file.
var ErrScenario = errors.New("sim: scenario")

// Scenario is the pods and containers a demo replays the lifecycle of.
type Scenario struct {
	Pods []PodSpec `toml:"pod"`
}

// PodSpec is one [[pod]] of a scenario.
type PodSpec struct {
	Name        string            `toml:"name"`
	Namespace   string            `toml:"namespace"`
	UID         string            `toml:"uid"`
	Labels      map[string]string `toml:"labels"`
	Annotations map[string]string `toml:"annotations"`
	Containers  []ContainerSpec   `toml:"container"`
}

// ContainerSpec is one [[pod.container]]; Env entries are "KEY=VALUE".
type ContainerSpec struct {
	Name        string            `toml:"name"`
	Args        []string          `toml:"args"`
	Env         []string          `toml:"env"`
	Labels      map[string]string `toml:"labels"`
	Annotations map[string]string `toml:"annotations"`
}

// DefaultScenario is replayed when no scenario is given: one pod with two
// containers, whose annotation asks the ulimit plugin for file limits on
// the first one.
func DefaultScenario() *Scenario {
	return &Scenario{Pods: []PodSpec{{
		Name: "demo", Namespace: "default", UID: "8f2c9d4e-demo",
		Labels: map[string]string{"app": "demo"},
		Annotations: map[string]string{
			"ulimits.noderesource.dev/container.app": "- type: RLIMIT_NOFILE\n  soft: 1024\n  hard: 4096\n",
		},
		Containers: []ContainerSpec{
			{Name: "app", Args: []string{"/bin/app", "--serve"}, Env: []string{"PATH=/usr/bin:/bin"}},
			{Name: "sidecar", Args: []string{"/bin/sidecar"}, Env: []string{"PATH=/usr/bin:/bin"}},
		},
	}}}
}

// ParseScenario reads a scenario in TOML. Unknown keys and missing or
// duplicate names are errors naming file and key.
func ParseScenario(file string, data []byte) (*Scenario, error) {
	var s Scenario
	md, err := toml.Decode(string(data), &s)
	if err != nil {
		var perr toml.ParseError
		if errors.As(err, &perr) {
			return nil, fmt.Errorf("%w: %s:%d: %s", ErrScenario, file, perr.Position.Line, perr.Message)
		}
		return nil, fmt.Errorf("%w: %s: %v", ErrScenario, file, err)
	}
	var errs []error
	for _, k := range md.Undecoded() {
		errs = append(errs, fmt.Errorf("%w: %s: unknown key %q (want pod.name, namespace, uid, labels, annotations, container.name, args, env, labels, annotations)", ErrScenario, file, k.String()))
	}
	if len(s.Pods) == 0 {
		errs = append(errs, fmt.Errorf("%w: %s: no [[pod]]", ErrScenario, file))
	}
	pods := map[string]bool{}
	for i, p := range s.Pods {
		at := fmt.Sprintf("%s: pod[%d]", file, i+1)
		switch id := p.Namespace + "/" + p.Name; {
		case p.Name == "":
			errs = append(errs, fmt.Errorf("%w: %s.name is missing", ErrScenario, at))
		case pods[id]:
			errs = append(errs, fmt.Errorf("%w: %s.name: pod %q appears twice", ErrScenario, at, id))
		default:
			pods[id] = true
		}
		ctrs := map[string]bool{}
		for j, c := range p.Containers {
			cat := fmt.Sprintf("%s.container[%d]", at, j+1)
			switch {
			case c.Name == "":
				errs = append(errs, fmt.Errorf("%w: %s.name is missing", ErrScenario, cat))
			case ctrs[c.Name]:
				errs = append(errs, fmt.Errorf("%w: %s.name: container %q appears twice in its pod", ErrScenario, cat, c.Name))
			}
			ctrs[c.Name] = true
			for _, kv := range c.Env {
				if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
					errs = append(errs, fmt.Errorf("%w: %s.env: %q is not KEY=VALUE", ErrScenario, cat, kv))
				}
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for i := range s.Pods {
		if s.Pods[i].Namespace == "" {
			s.Pods[i].Namespace = "default"
		}
	}
	return &s, nil
}

// Step is one event of a replay and what the runtime got back.
type Step struct {
	Event     api.Event
	Pod       *api.PodSandbox
	Container *api.Container // nil for pod events
	Response  proto.Message  // the runtime's merged result; nil if Err
	Err       error          // what the runtime's call returned
}

// Updated resources sent by the replay's update events.
var (
	updatedContainer = &api.LinuxResources{
		Memory: &api.LinuxMemory{Limit: api.Int64(256 << 20)},
		Cpu:    &api.LinuxCPU{Shares: api.UInt64(512)},
	}
	updatedPod = &api.LinuxResources{
		Memory: &api.LinuxMemory{Limit: api.Int64(512 << 20)},
		Cpu:    &api.LinuxCPU{Shares: api.UInt64(1024)},
	}
)

// Replay runs every pod's lifecycle through the runtime in the demo's order
// and reports each step. Events that plugins fail are reported and the
// replay goes on, as a runtime would with the next request; it stops early
// only when ctx is done.
func (r *Runtime) Replay(ctx context.Context, s *Scenario, report func(Step)) error {
	for _, ps := range s.Pods {
		pod := r.NewPod(ps.Name, ps.Namespace, ps.UID, ps.Labels, ps.Annotations)
		var ctrs []*api.Container
		for _, cs := range ps.Containers {
			ctrs = append(ctrs, r.NewContainer(pod, cs.Name, cs.Args, cs.Env, cs.Labels, cs.Annotations))
		}
		step := func(ev api.Event, ctr *api.Container, res *api.LinuxResources) {
			resp, err := r.Event(ctx, ev, pod, ctr, res)
			if err != nil {
				resp = nil
			}
			report(Step{Event: ev, Pod: pod, Container: ctr, Response: resp, Err: err})
		}
		step(api.Event_RUN_POD_SANDBOX, nil, nil)
		for _, c := range ctrs {
			for _, ev := range []api.Event{api.Event_CREATE_CONTAINER, api.Event_POST_CREATE_CONTAINER, api.Event_START_CONTAINER, api.Event_POST_START_CONTAINER} {
				step(ev, c, nil)
			}
		}
		for _, c := range ctrs {
			step(api.Event_UPDATE_CONTAINER, c, updatedContainer)
			step(api.Event_POST_UPDATE_CONTAINER, c, nil)
		}
		step(api.Event_UPDATE_POD_SANDBOX, nil, updatedPod)
		step(api.Event_POST_UPDATE_POD_SANDBOX, nil, nil)
		for _, c := range ctrs {
			step(api.Event_STOP_CONTAINER, c, nil)
			step(api.Event_REMOVE_CONTAINER, c, nil)
		}
		step(api.Event_STOP_POD_SANDBOX, nil, nil)
		step(api.Event_REMOVE_POD_SANDBOX, nil, nil)
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}
