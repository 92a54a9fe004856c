//go:build wasip1

package main

import (
	"context"
	"fmt"

	"github.com/containerd/nri/pkg/api"
)

func init() {
	host := api.NewHostFunctions()
	api.RegisterPlugin(&plugin{logf: func(ctx context.Context, format string, args ...any) {
		_, _ = host.Log(ctx, &api.LogRequest{Msg: fmt.Sprintf(format, args...), Level: api.LogRequest_LEVEL_INFO})
	}})
}
