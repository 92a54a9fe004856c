package main

import (
	"context"
	"testing"

	"github.com/containerd/nri/pkg/api"
)

// TestHistory checks the variables of the successful path; the faults are
// exercised on the compiled guest by internal/testplugins.
func TestHistory(t *testing.T) {
	p := &plugin{instance: "0123456789abcdef"}
	ctx := context.Background()
	if _, err := p.Configure(ctx, &api.ConfigureRequest{Config: "cfg"}); err != nil {
		t.Fatal(err)
	}
	pods := func(n int) []*api.PodSandbox { return make([]*api.PodSandbox, n) }
	for _, tc := range []struct {
		req                 *api.SynchronizeRequest
		pods, ctrs, creates string // the variables after a create; none if More
	}{
		{req: &api.SynchronizeRequest{Pods: pods(2), More: true}},
		{req: &api.SynchronizeRequest{Pods: pods(1), Containers: make([]*api.Container, 4)},
			pods: "3", ctrs: "4", creates: "1"},
		// A new Synchronize starts from zero.
		{req: &api.SynchronizeRequest{Pods: pods(1)}, pods: "1", ctrs: "0", creates: "2"},
	} {
		resp, err := p.Synchronize(ctx, tc.req)
		if err != nil || resp.GetMore() != tc.req.GetMore() || len(resp.GetUpdate()) != 0 {
			t.Fatalf("Synchronize: got %v, %v; want More %v and no updates", resp, err, tc.req.GetMore())
		}
		if tc.req.GetMore() {
			continue
		}
		created, err := p.CreateContainer(ctx, &api.CreateContainerRequest{Container: &api.Container{
			Annotations: map[string]string{Key: "none"}}})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, kv := range created.GetAdjust().GetEnv() {
			got[kv.GetKey()] = kv.GetValue()
		}
		want := map[string]string{"FAULT_CONFIG": "cfg", "FAULT_SYNC_PODS": tc.pods, "FAULT_SYNC_CONTAINERS": tc.ctrs,
			"FAULT_CREATES": tc.creates, "FAULT_INSTANCE": "0123456789abcdef"}
		if len(got) != len(want) {
			t.Errorf("env %v, want %v", got, want)
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s=%q, want %q", k, got[k], v)
			}
		}
	}
	if _, err := p.CreateContainer(ctx, &api.CreateContainerRequest{Container: &api.Container{
		Annotations: map[string]string{Key: "error"}}}); err == nil || err.Error() != "fault: requested error" {
		t.Errorf("error fault: got %v", err)
	}
}
