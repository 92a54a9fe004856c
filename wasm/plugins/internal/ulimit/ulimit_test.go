package ulimit

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/containerd/nri/pkg/api"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		want        []Rlimit
		err         string
	}{
		{name: "empty list", value: " [] "},
		{name: "blank", value: "\n  \n"},
		{name: "upstream sample",
			value: "- type: RLIMIT_NOFILE\n  soft: 1024\n  hard: 4096\n- type: nproc\n  hard: 9000\n",
			want:  []Rlimit{{"RLIMIT_NOFILE", 1024, 4096}, {"RLIMIT_NPROC", 0, 9000}}},
		{name: "indented, comments, CRLF, quotes, any case",
			value: "  # limits\r\n  -   Type: 'Memlock'   # locked memory\r\n      HARD: \"65536\"\r\n\r\n  - type: rlimit_core\r\n",
			want:  []Rlimit{{"RLIMIT_MEMLOCK", 0, 65536}, {"RLIMIT_CORE", 0, 0}}},
		{name: "dash alone", value: "-\n  type: stack\n  soft: 8\n  hard: 8",
			want: []Rlimit{{"RLIMIT_STACK", 8, 8}}},
		{name: "max uint64", value: "- type: cpu\n  hard: 18446744073709551615",
			want: []Rlimit{{"RLIMIT_CPU", 0, 1<<64 - 1}}},
		{name: "not a list", value: "type: nofile", err: `line 1: "type: nofile" is not a list entry`},
		{name: "flow style", value: `[{"type": "nofile"}]`, err: `line 1: "[{\"type\": \"nofile\"}]" is not a list entry`},
		{name: "tab", value: "- type: nofile\n\thard: 1", err: "line 2: tab in indentation"},
		{name: "nested", value: "- type: nofile\n  - type: nproc", err: "line 2: \"- type: nproc\": nested or misaligned"},
		{name: "misaligned field", value: "- type: nofile\n   hard: 1", err: `line 2: "hard: 1" is not aligned`},
		{name: "unknown type", value: "- type: files", err: `line 1: unknown rlimit type "files"`},
		{name: "unknown field", value: "- type: nofile\n  max: 1", err: `line 2: unknown field "max"`},
		{name: "duplicate field", value: "- type: nofile\n  hard: 1\n  Hard: 2", err: `line 3: duplicate field "hard"`},
		{name: "no value", value: "- type:", err: `line 1: field "type" has no value`},
		{name: "no colon space", value: "- type:nofile", err: `line 1: "type:nofile" is not a "field: value" pair`},
		{name: "negative", value: "- type: nofile\n  soft: -1", err: `line 2: soft "-1" is not a decimal integer`},
		{name: "missing type", value: "- type: nofile\n- hard: 2", err: "entry 2 (line 2): missing type"},
		{name: "hard below soft", value: "- type: nofile\n  soft: 10",
			err: "entry 1 (line 1): RLIMIT_NOFILE: hard limit 0 is below soft limit 10"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.value)
			if tc.err != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.err) {
					t.Fatalf("error: got %v, want %q...", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 0 || len(tc.want) != 0 {
				if !reflect.DeepEqual(got, tc.want) {
					t.Errorf("got %v, want %v", got, tc.want)
				}
			}
		})
	}
}

func TestLookup(t *testing.T) {
	const (
		ctr    = "ulimits.noderesource.dev/container.app"
		oldCtr = "ulimits.nri.containerd.io/container.app"
		pod    = "ulimits.noderesource.dev/pod"
		bare   = "ulimits.noderesource.dev"
		oldPod = "ulimits.nri.containerd.io/pod"
	)
	for _, tc := range []struct {
		name        string
		annotations []string // keys, each with its own name as value
		want        string   // "" for none
	}{
		{name: "none", annotations: []string{"ulimits.noderesource.dev/container.other", "example.com/x"}},
		{name: "container", annotations: []string{ctr, oldCtr, pod, bare}, want: ctr},
		{name: "deprecated container key beats pod keys", annotations: []string{oldCtr, pod, bare}, want: oldCtr},
		{name: "pod", annotations: []string{pod, bare, oldPod}, want: pod},
		{name: "bare domain", annotations: []string{bare, oldPod}, want: bare},
		{name: "deprecated pod", annotations: []string{oldPod}, want: oldPod},
	} {
		t.Run(tc.name, func(t *testing.T) {
			annotations := map[string]string{}
			for _, k := range tc.annotations {
				annotations[k] = k
			}
			key, value, ok := Lookup(annotations, "app")
			if ok != (tc.want != "") || key != tc.want || value != tc.want {
				t.Errorf("got %q, %q, %v; want %q", key, value, ok, tc.want)
			}
		})
	}
}

func TestAdjust(t *testing.T) {
	pod := &api.PodSandbox{Annotations: map[string]string{
		"ulimits.noderesource.dev/container.app": "- type: nofile\n  soft: 1\n  hard: 2",
		"ulimits.noderesource.dev/container.bad": "- type: nofile\n  soft: 3",
	}}
	a, err := Adjust(pod, "app")
	if err != nil {
		t.Fatal(err)
	}
	if want := []*api.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 1, Hard: 2}}; !reflect.DeepEqual(a.GetRlimits(), want) {
		t.Errorf("rlimits: got %v, want %v", a.GetRlimits(), want)
	}
	if a, err := Adjust(pod, "other"); a != nil || err != nil {
		t.Errorf("no annotation: got %v, %v", a, err)
	}
	_, err = Adjust(pod, "bad")
	const want = `ulimit: invalid annotation "ulimits.noderesource.dev/container.bad": entry 1 (line 1): RLIMIT_NOFILE: hard limit 0 is below soft limit 3`
	if !errors.Is(err, ErrInvalid) || err.Error() != want {
		t.Errorf("error:\n got %v\nwant %s", err, want)
	}
}
