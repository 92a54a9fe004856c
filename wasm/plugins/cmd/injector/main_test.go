package main

import (
	"context"
	"os"
	"reflect"
	"testing"

	"github.com/containerd/nri/pkg/api"
)

func TestInjector(t *testing.T) {
	demo, err := os.ReadFile("demo.conf")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, config string
		env          []*api.KeyValue
		annotations  map[string]string
		err          string
	}{
		{name: "demo", config: string(demo),
			env:         []*api.KeyValue{{Key: "NRIWASM_INJECTED", Value: "true"}},
			annotations: map[string]string{"nriwasm.dev/injected-by": "injector"}},
		{name: "empty", config: ""},
		{name: "invalid", config: "env A=1\nlabel b=2",
			err: `injector config: line 2: unknown directive "label" in "label b=2" (want env or annotation)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &plugin{}
			ctx := context.Background()
			resp, err := p.Configure(ctx, &api.ConfigureRequest{Config: tc.config})
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("error:\n got %v\nwant %s", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := int32(1 << (api.Event_CREATE_CONTAINER - 1)); resp.GetEvents() != want {
				t.Errorf("events %#x, want %#x", resp.GetEvents(), want)
			}
			for range 2 { // every container gets the same adjustment
				created, err := p.CreateContainer(ctx, &api.CreateContainerRequest{})
				if err != nil {
					t.Fatal(err)
				}
				adjust := created.GetAdjust()
				if !reflect.DeepEqual(adjust.GetEnv(), tc.env) || !reflect.DeepEqual(adjust.GetAnnotations(), tc.annotations) {
					t.Errorf("adjustment: got env %v annotations %v, want %v %v",
						adjust.GetEnv(), adjust.GetAnnotations(), tc.env, tc.annotations)
				}
			}
		})
	}
}
