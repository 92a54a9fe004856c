package nri_test

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/nri/pkg/api"
	"github.com/containerd/nri/pkg/net/multiplex"
	"github.com/containerd/ttrpc"

	"github.com/nriwasm/nriwasm/internal/testutil"
)

// oldRuntime is the runtime side of NRI before v0.12, reduced to what these
// tests need: it accepts one plugin, sends no NRI version in Configure and
// delivers most events through StateChange.
type oldRuntime struct {
	registered chan *api.RegisterPluginRequest
}

func (o *oldRuntime) RegisterPlugin(_ context.Context, req *api.RegisterPluginRequest) (*api.Empty, error) {
	o.registered <- req
	return &api.Empty{}, nil
}

func (o *oldRuntime) UpdateContainers(context.Context, *api.UpdateContainersRequest) (*api.UpdateContainersResponse, error) {
	return &api.UpdateContainersResponse{}, nil
}

// accept serves the Runtime service on the next connection and returns a
// client of the plugin's service, once the plugin registered.
func (o *oldRuntime) accept(t *testing.T, l net.Listener) api.PluginService {
	conn, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	mux := multiplex.Multiplex(conn, multiplex.WithBlockedRead())
	t.Cleanup(func() { mux.Close() })
	pconn, err := mux.Open(multiplex.PluginServiceConn)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ttrpc.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	api.RegisterRuntimeService(srv, o)
	rl, err := mux.Listen(multiplex.RuntimeServiceConn)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(context.Background(), rl)
	t.Cleanup(func() { srv.Close() })
	mux.Unblock()
	<-o.registered
	return api.NewPluginClient(ttrpc.NewClient(pconn))
}

// A runtime older than NRI v0.12 sends most events as StateChange and knows
// fewer events: the plugin subscribes to none it does not know, and a v0.12
// guest gets each StateChange through its own export.
func TestOlderRuntimeStateChange(t *testing.T) {
	dir := testutil.ShortDir(t)
	socket := filepath.Join(dir, "nri.sock")
	l, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	logs := &logSink{}
	if _, err := runHost(t, socket, logs, spec(t, "10", "logger", "logger")); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	rt := &oldRuntime{registered: make(chan *api.RegisterPluginRequest, 1)}
	plugin := rt.accept(t, l)
	resp, err := plugin.Configure(ctx, &api.ConfigureRequest{RuntimeName: "containerd", RuntimeVersion: "v1.7.20", RequestTimeout: 2000})
	if err != nil {
		t.Fatal(err)
	}
	oldEvents := api.EventMask(1<<(api.Event_UPDATE_POD_SANDBOX-1) - 1) // events 1 to 11, bits 0 to 10
	if extra := api.EventMask(resp.Events) &^ oldEvents; extra != 0 {
		t.Errorf("subscribed to %s, unknown to a v0.11 runtime", extra.PrettyString())
	}
	if _, err := plugin.Synchronize(ctx, &api.SynchronizeRequest{}); err != nil {
		t.Fatal(err)
	}
	pod := &api.PodSandbox{Id: "pod-1", Name: "p", Namespace: "ns"}
	ctr := &api.Container{Id: "ctr-1", PodSandboxId: "pod-1", Name: "c"}
	for _, ev := range []api.Event{api.Event_RUN_POD_SANDBOX, api.Event_START_CONTAINER, api.Event_REMOVE_CONTAINER} {
		var c *api.Container
		if ev != api.Event_RUN_POD_SANDBOX {
			c = ctr
		}
		if _, err := plugin.StateChange(ctx, &api.StateChangeEvent{Event: ev, Pod: pod, Container: c}); err != nil {
			t.Fatalf("StateChange %s: %v", ev.PrettyName(), err)
		}
		if len(logs.matching(`source="env.log"`, ev.PrettyName()+" pod=ns/p")) != 1 {
			t.Errorf("StateChange %s did not reach the guest:\n%s", ev.PrettyName(), strings.Join(logs.matching(), "\n"))
		}
	}
	if _, err := plugin.StateChange(ctx, &api.StateChangeEvent{Event: api.Event_CREATE_CONTAINER, Pod: pod, Container: ctr}); err == nil {
		t.Error("StateChange carrying CreateContainer accepted")
	}
}
