package nri

import (
	"fmt"
	"net"
	"os"
	"strconv"

	"github.com/containerd/nri/pkg/api"
	nrinet "github.com/containerd/nri/pkg/net"
)

// Launch describes how the runtime started this process, when it did: NRI
// launches the executables in its plugin_path with a connected socket and
// the plugin's name and index in the environment (and nothing else there).
type Launch struct {
	Name, Index string
	Conn        net.Conn
}

// LaunchedByRuntime reports whether the environment says the runtime
// started this process, without taking over its socket.
func LaunchedByRuntime() bool { return os.Getenv(api.PluginSocketEnvVar) != "" }

// Launched reports whether the runtime started this process as a plugin and,
// if so, returns the connection it made. ok is false when the environment
// does not say so; err is set when it says so but is unusable. The socket
// can be taken over once.
func Launched() (l Launch, ok bool, err error) {
	if !LaunchedByRuntime() {
		return l, false, nil
	}
	fdText := os.Getenv(api.PluginSocketEnvVar)
	l.Name, l.Index = os.Getenv(api.PluginNameEnvVar), os.Getenv(api.PluginIdxEnvVar)
	if err := api.CheckPluginName(l.Name); err != nil {
		return l, true, fmt.Errorf("nri: launched with %s=%q: %w", api.PluginNameEnvVar, l.Name, err)
	}
	if err := api.CheckPluginIndex(l.Index); err != nil {
		return l, true, fmt.Errorf("nri: launched with %s=%q: %w", api.PluginIdxEnvVar, l.Index, err)
	}
	fd, err := strconv.Atoi(fdText)
	if err != nil {
		return l, true, fmt.Errorf("nri: launched with %s=%q: not a file descriptor", api.PluginSocketEnvVar, fdText)
	}
	if l.Conn, err = nrinet.NewFdConn(fd); err != nil {
		return l, true, fmt.Errorf("nri: launched with socket fd %d: %w", fd, err)
	}
	return l, true, nil
}
