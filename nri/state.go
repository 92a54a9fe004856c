package nri

import (
	"slices"
	"strings"
	"sync"

	"github.com/containerd/nri/pkg/api"
)

// state is what one registration knows of the runtime's pods and containers:
// the last Synchronize, then every lifecycle event since. A fresh instance
// that replaces a failed one is synchronized from it, so it sees the same
// world the failed one saw without re-registering with the runtime.
type state struct {
	mu   sync.Mutex
	pods map[string]*api.PodSandbox
	ctrs map[string]*api.Container
}

func newState() *state {
	return &state{pods: map[string]*api.PodSandbox{}, ctrs: map[string]*api.Container{}}
}

// reset replaces everything with a runtime's Synchronize.
func (s *state) reset(pods []*api.PodSandbox, ctrs []*api.Container) {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.pods)
	clear(s.ctrs)
	for _, p := range pods {
		s.pods[p.GetId()] = p
	}
	for _, c := range ctrs {
		s.ctrs[c.GetId()] = c
	}
}

// observe records what an event says about the runtime's state. Objects are
// kept as received: the runtime sends a fresh copy with each event.
func (s *state) observe(ev api.Event, pod *api.PodSandbox, ctr *api.Container) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch ev {
	case api.Event_REMOVE_POD_SANDBOX:
		delete(s.pods, pod.GetId())
		for id, c := range s.ctrs {
			if c.GetPodSandboxId() == pod.GetId() {
				delete(s.ctrs, id)
			}
		}
		return
	case api.Event_REMOVE_CONTAINER:
		delete(s.ctrs, ctr.GetId())
		return
	}
	if pod != nil {
		s.pods[pod.GetId()] = pod
	}
	if ctr != nil {
		s.ctrs[ctr.GetId()] = ctr
	}
}

// snapshot lists the pods and containers in a stable order (by ID), as a
// Synchronize request carries them.
func (s *state) snapshot() ([]*api.PodSandbox, []*api.Container) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pods := mapValues(s.pods, (*api.PodSandbox).GetId)
	ctrs := mapValues(s.ctrs, (*api.Container).GetId)
	return pods, ctrs
}

func mapValues[T any](m map[string]T, id func(T) string) []T {
	out := make([]T, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b T) int { return strings.Compare(id(a), id(b)) })
	return out
}
