package main

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/containerd/nri/pkg/api"
	"github.com/nriwasm/nriwasm/wasm/plugins/internal/ulimit"
)

func TestCreateContainer(t *testing.T) {
	for _, tc := range []struct {
		name        string
		annotations map[string]string
		want        []*api.POSIXRlimit
		err         bool
	}{
		{name: "no annotation"},
		{name: "other container", annotations: map[string]string{
			"ulimits.noderesource.dev/container.sidecar": "- type: nofile\n  hard: 8",
		}},
		{name: "limits", annotations: map[string]string{
			"ulimits.noderesource.dev/container.app": "- type: nofile\n  soft: 1024\n  hard: 4096\n- type: RLIMIT_NPROC\n  hard: 50",
		}, want: []*api.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 1024, Hard: 4096}, {Type: "RLIMIT_NPROC", Hard: 50}}},
		{name: "invalid", annotations: map[string]string{
			"ulimits.noderesource.dev/container.app": "- type: files",
		}, err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p plugin
			req := &api.CreateContainerRequest{
				Pod:       &api.PodSandbox{Annotations: tc.annotations},
				Container: &api.Container{Name: "app"},
			}
			resp, err := p.CreateContainer(context.Background(), req)
			if tc.err {
				if !errors.Is(err, ulimit.ErrInvalid) {
					t.Fatalf("got %v, want an ulimit.ErrInvalid", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := resp.GetAdjust().GetRlimits(); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("rlimits: got %v, want %v", got, tc.want)
			}
		})
	}
}
