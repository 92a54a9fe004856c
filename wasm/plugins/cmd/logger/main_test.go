package main

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/containerd/nri/pkg/api"
)

func TestConfigure(t *testing.T) {
	var all api.EventMask
	all.Set(lifecycle...)
	for _, tc := range []struct {
		config string
		want   []api.Event // nil: all of lifecycle
		err    string
	}{
		{config: ""},
		{config: " \n"},
		{config: "CreateContainer,StopContainer", want: []api.Event{api.Event_CREATE_CONTAINER, api.Event_STOP_CONTAINER}},
		{config: "runpodsandbox, REMOVEPODSANDBOX\n", want: []api.Event{api.Event_RUN_POD_SANDBOX, api.Event_REMOVE_POD_SANDBOX}},
		{config: "CreateContainer,,PostStartContainer", want: []api.Event{api.Event_CREATE_CONTAINER, api.Event_POST_START_CONTAINER}},
		{config: "CreateContainer,Create", err: `logger: unknown event "Create" in config (want a comma-separated list of RunPodSandbox, `},
		{config: "ValidateContainerAdjustment", err: `unknown event "ValidateContainerAdjustment"`},
		{config: "all", err: `unknown event "all"`},
	} {
		t.Run(tc.config, func(t *testing.T) {
			resp, err := (&plugin{}).Configure(context.Background(), &api.ConfigureRequest{Config: tc.config})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error: got %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := all
			if tc.want != nil {
				want = 0
				want.Set(tc.want...)
			}
			if got := api.EventMask(resp.GetEvents()); got != want {
				t.Errorf("events: got %s, want %s", got.PrettyString(), want.PrettyString())
			}
		})
	}
	if all.IsSet(api.Event_VALIDATE_CONTAINER_ADJUSTMENT) || len(lifecycle) != int(api.Event_LAST)-2 {
		t.Errorf("lifecycle events: %v", lifecycle)
	}
}

// TestEvents calls the handler of every lifecycle event, found by the event's
// name, so that an event left to guest.Unimplemented shows up as silent.
func TestEvents(t *testing.T) {
	var lines []string
	p := &plugin{logf: func(_ context.Context, level api.LogRequest_Level, format string, args ...any) {
		if level != api.LogRequest_LEVEL_INFO {
			t.Errorf("level %v", level)
		}
		lines = append(lines, fmt.Sprintf(format, args...))
	}}
	pod := reflect.ValueOf(&api.PodSandbox{Namespace: "ns", Name: "web"})
	ctr := reflect.ValueOf(&api.Container{Name: "nginx"})
	for _, ev := range lifecycle {
		lines = nil
		handler := reflect.ValueOf(p).MethodByName(ev.PrettyName())
		req := reflect.New(handler.Type().In(1).Elem())
		req.Elem().FieldByName("Pod").Set(pod)
		want := ev.PrettyName() + " pod=ns/web"
		if f := req.Elem().FieldByName("Container"); f.IsValid() {
			f.Set(ctr)
			want += " container=nginx"
		}
		out := handler.Call([]reflect.Value{reflect.ValueOf(context.Background()), req})
		if err, _ := out[1].Interface().(error); err != nil || out[0].IsNil() {
			t.Errorf("%s: returned %v, %v", ev.PrettyName(), out[0], err)
		}
		if !reflect.DeepEqual(lines, []string{want}) {
			t.Errorf("%s: logged %q, want %q", ev.PrettyName(), lines, want)
		}
	}
}

// TestEmptyRequest checks that a handler does not panic, which would kill the
// instance, on a request without pod or container.
func TestEmptyRequest(t *testing.T) {
	var line string
	p := &plugin{logf: func(_ context.Context, _ api.LogRequest_Level, format string, args ...any) {
		line = fmt.Sprintf(format, args...)
	}}
	if _, err := p.StopContainer(context.Background(), &api.StopContainerRequest{}); err != nil {
		t.Fatal(err)
	}
	if want := "StopContainer pod=/"; line != want {
		t.Errorf("logged %q, want %q", line, want)
	}
}
