package guest

import (
	"context"
	"testing"

	"github.com/containerd/nri/pkg/api"
)

func TestSubscribe(t *testing.T) {
	for _, tc := range []struct {
		events []api.Event
		want   int32
	}{
		{[]api.Event{api.Event_RUN_POD_SANDBOX}, 1},
		{[]api.Event{api.Event_CREATE_CONTAINER, api.Event_STOP_CONTAINER}, 1<<3 | 1<<9},
	} {
		if got := Subscribe(tc.events...).GetEvents(); got != tc.want {
			t.Errorf("Subscribe(%v) = %#x, want %#x", tc.events, got, tc.want)
		}
	}
}

func TestSynchronizeEchoesMore(t *testing.T) {
	for _, more := range []bool{true, false} {
		resp, err := Unimplemented{}.Synchronize(context.Background(), &api.SynchronizeRequest{More: more})
		if err != nil || resp.GetMore() != more || len(resp.GetUpdate()) != 0 {
			t.Errorf("More %v: got %v, %v", more, resp, err)
		}
	}
}

func TestPodName(t *testing.T) {
	for _, tc := range []struct {
		pod  *api.PodSandbox
		want string
	}{
		{&api.PodSandbox{Namespace: "kube-system", Name: "coredns-1"}, "kube-system/coredns-1"},
		{nil, "/"},
	} {
		if got := PodName(tc.pod); got != tc.want {
			t.Errorf("PodName(%v) = %q, want %q", tc.pod, got, tc.want)
		}
	}
}
