// Command fault is a test guest (not shipped) whose CreateContainer fails on
// request, for the host's tests of traps, deadlines, exits and memory limits.
//
// The container annotation fault.nriwasm.test/create selects the behavior:
//
//	trap   a Go panic (the guest exits with code 2)
//	spin   an endless loop, until the host's deadline
//	exit   os.Exit(3)
//	error  an error reply, "fault: requested error"
//	grow   allocate and touch 1 MiB blocks until the Go runtime runs out of memory
//
// Otherwise it succeeds and adds environment variables that expose the
// instance's history, so that a test can tell whether the host replaced the
// instance and replayed Configure and Synchronize into it:
//
//	FAULT_CONFIG           the config of the last Configure
//	FAULT_SYNC_PODS        pods in the last Synchronize (all chunks)
//	FAULT_SYNC_CONTAINERS  containers in the last Synchronize (all chunks)
//	FAULT_CREATES          CreateContainer calls of this instance, this one included
//	FAULT_INSTANCE         a random 64-bit hex number chosen at initialization
package main

import (
	"context"
	"errors"
	"os"
	"strconv"

	"github.com/containerd/nri/pkg/api"
	"github.com/nriwasm/nriwasm/wasm/plugins/internal/guest"
)

// Key is the container annotation that selects the fault.
const Key = "fault.nriwasm.test/create"

// main is never run: a c-shared module only runs its init functions.
func main() {}

type plugin struct {
	guest.Unimplemented
	instance                 string
	config                   string
	syncPods, syncContainers int
	syncing                  bool // between the chunks of one Synchronize
	creates                  int
}

var _ api.Plugin = (*plugin)(nil)

// hoard keeps what "grow" allocates reachable, so the GC cannot reuse it.
var hoard [][]byte

func (p *plugin) Configure(_ context.Context, req *api.ConfigureRequest) (*api.ConfigureResponse, error) {
	p.config = req.GetConfig()
	return guest.Subscribe(api.Event_CREATE_CONTAINER), nil
}

func (p *plugin) Synchronize(ctx context.Context, req *api.SynchronizeRequest) (*api.SynchronizeResponse, error) {
	if !p.syncing {
		p.syncPods, p.syncContainers = 0, 0
	}
	p.syncPods += len(req.GetPods())
	p.syncContainers += len(req.GetContainers())
	p.syncing = req.GetMore()
	return p.Unimplemented.Synchronize(ctx, req)
}

func (p *plugin) CreateContainer(_ context.Context, req *api.CreateContainerRequest) (*api.CreateContainerResponse, error) {
	p.creates++
	switch req.GetContainer().GetAnnotations()[Key] {
	case "trap":
		panic("fault: requested trap")
	case "spin":
		for {
		}
	case "exit":
		os.Exit(3)
	case "error":
		return nil, errors.New("fault: requested error")
	case "grow":
		for {
			// Touch every page: fresh memory is zero and Go would not
			// write it, so it would never become resident.
			b := make([]byte, 1<<20)
			for i := 0; i < len(b); i += 4096 {
				b[i] = 1
			}
			hoard = append(hoard, b)
		}
	}
	a := &api.ContainerAdjustment{}
	a.AddEnv("FAULT_CONFIG", p.config)
	a.AddEnv("FAULT_SYNC_PODS", strconv.Itoa(p.syncPods))
	a.AddEnv("FAULT_SYNC_CONTAINERS", strconv.Itoa(p.syncContainers))
	a.AddEnv("FAULT_CREATES", strconv.Itoa(p.creates))
	a.AddEnv("FAULT_INSTANCE", p.instance)
	return &api.CreateContainerResponse{Adjust: a}, nil
}
