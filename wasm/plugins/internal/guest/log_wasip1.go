//go:build wasip1

package guest

import (
	"context"
	"fmt"

	"github.com/containerd/nri/pkg/api"
)

var host = api.NewHostFunctions()

// Logf sends a message to the host's log (the env.log import).
func Logf(ctx context.Context, level api.LogRequest_Level, format string, args ...any) {
	// A log call that fails has nowhere to report the failure.
	_, _ = host.Log(ctx, &api.LogRequest{Msg: fmt.Sprintf(format, args...), Level: level})
}
