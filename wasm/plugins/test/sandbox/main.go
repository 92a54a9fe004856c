// Command sandbox is a test guest (not shipped) that probes what the host
// lets a plugin reach, and reports it in CreateContainer's environment:
//
//	SANDBOX_PREOPEN      errno of fd_prestat_get(3): a preopened directory would be 0
//	SANDBOX_PATH_OPEN    errno of path_open(3, "etc/passwd")
//	SANDBOX_OS_OPEN      the error of os.Open("/etc/passwd"), "" if it opened
//	SANDBOX_ENVIRON      the number of environment variables
//	SANDBOX_ARGS         the number of arguments
//	SANDBOX_SOCK_ACCEPT  errno of sock_accept on fds 3 to 9: the first that is not EBADF, else EBADF
//	SANDBOX_SOCK_SEND    errno of sock_send(1) (stdout is not a socket)
//
// The probes are direct WASI calls where the Go runtime would hide them.
package main

import (
	"context"
	"os"
	"strconv"

	"github.com/containerd/nri/pkg/api"
	"github.com/nriwasm/nriwasm/wasm/plugins/internal/guest"
)

// main is never run: a c-shared module only runs its init functions.
func main() {}

type plugin struct{ guest.Unimplemented }

var _ api.Plugin = (*plugin)(nil)

func (p *plugin) Configure(context.Context, *api.ConfigureRequest) (*api.ConfigureResponse, error) {
	return guest.Subscribe(api.Event_CREATE_CONTAINER), nil
}

// probe is one capability check: its variable and what it found.
type probe struct {
	key string
	run func() string
}

// probes are the direct WASI calls, set on wasip1.
var probes []probe

func (p *plugin) CreateContainer(context.Context, *api.CreateContainerRequest) (*api.CreateContainerResponse, error) {
	a := &api.ContainerAdjustment{}
	for _, pr := range probes {
		a.AddEnv(pr.key, pr.run())
	}
	osOpen := ""
	if f, err := os.Open("/etc/passwd"); err != nil {
		osOpen = err.Error()
	} else {
		f.Close()
	}
	a.AddEnv("SANDBOX_OS_OPEN", osOpen)
	a.AddEnv("SANDBOX_ENVIRON", strconv.Itoa(len(os.Environ())))
	a.AddEnv("SANDBOX_ARGS", strconv.Itoa(len(os.Args)))
	return &api.CreateContainerResponse{Adjust: a}, nil
}
