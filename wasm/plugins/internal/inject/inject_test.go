package inject

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"testing"
)

// The cases are shared with internal/testplugins (in the root module), which
// runs them through the compiled injector plugin.
type testCase struct {
	Name        string      `json:"name"`
	Config      string      `json:"config"`
	Env         [][2]string `json:"env"`
	Annotations [][2]string `json:"annotations"`
	Error       string      `json:"error"`
}

func TestParse(t *testing.T) {
	b, err := os.ReadFile("testdata/configs.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []testCase
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			c, err := Parse(tc.Config)
			if tc.Error != "" {
				if err == nil || err.Error() != tc.Error {
					t.Fatalf("error:\n got %v\nwant %s", err, tc.Error)
				}
				if !errors.Is(err, ErrSyntax) {
					t.Errorf("%v does not wrap ErrSyntax", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, want := c.Env, pairs(tc.Env); !reflect.DeepEqual(got, want) {
				t.Errorf("env: got %q, want %q", got, want)
			}
			if got, want := c.Annotations, pairs(tc.Annotations); !reflect.DeepEqual(got, want) {
				t.Errorf("annotations: got %q, want %q", got, want)
			}
		})
	}
}

func pairs(p [][2]string) []KeyValue {
	var kvs []KeyValue
	for _, kv := range p {
		kvs = append(kvs, KeyValue{kv[0], kv[1]})
	}
	return kvs
}

func TestAdjustment(t *testing.T) {
	c, err := Parse("env A=1\nannotation b=2\nenv C=3")
	if err != nil {
		t.Fatal(err)
	}
	a := c.Adjustment()
	if len(a.Env) != 2 || a.Env[0].Key != "A" || a.Env[0].Value != "1" || a.Env[1].Key != "C" || a.Env[1].Value != "3" {
		t.Errorf("env: got %v", a.Env)
	}
	if want := map[string]string{"b": "2"}; !reflect.DeepEqual(a.Annotations, want) {
		t.Errorf("annotations: got %v, want %v", a.Annotations, want)
	}
	// Each call returns a fresh adjustment: the runtime may keep the one it got.
	if c.Adjustment() == a {
		t.Error("Adjustment returned the same object twice")
	}
}
