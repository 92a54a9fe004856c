//go:build wasip1

package main

import (
	"github.com/containerd/nri/pkg/api"
	"github.com/nriwasm/nriwasm/wasm/plugins/internal/guest"
)

func init() { api.RegisterPlugin(&plugin{logf: guest.Logf}) }
