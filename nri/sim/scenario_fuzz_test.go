package sim_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/nriwasm/nriwasm/nri/sim"
)

// A scenario parses into pods and containers a replay can use, or fails
// with problems that each name the file; it never panics.
func FuzzParseScenario(f *testing.F) {
	f.Add([]byte("[[pod]]\nname = \"web\"\n[[pod.container]]\nname = \"app\"\nenv = [\"A=1\"]\n"))
	f.Add([]byte("[[pod]]\nname = \"a\"\n[[pod]]\nname = \"a\"\n[[pod.container]]\nenv = [\"=x\"]\nbogus = 1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := sim.ParseScenario("s.toml", data)
		if (s == nil) == (err == nil) {
			t.Fatalf("got scenario %v and error %v", s, err)
		}
		if err != nil {
			if !errors.Is(err, sim.ErrScenario) {
				t.Fatalf("error %v is not ErrScenario", err)
			}
			for line := range strings.Lines(err.Error()) {
				if !strings.Contains(line, "s.toml") {
					t.Errorf("problem %q does not name the file", line)
				}
			}
			return
		}
		if len(s.Pods) == 0 {
			t.Fatal("a scenario without pods")
		}
		pods := map[string]bool{}
		for _, p := range s.Pods {
			id := p.Namespace + "/" + p.Name
			if p.Name == "" || p.Namespace == "" || pods[id] {
				t.Fatalf("pod %q: missing or repeated name", id)
			}
			pods[id] = true
			ctrs := map[string]bool{}
			for _, c := range p.Containers {
				if c.Name == "" || ctrs[c.Name] {
					t.Fatalf("pod %q: container %q missing or repeated", id, c.Name)
				}
				ctrs[c.Name] = true
				for _, kv := range c.Env {
					if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
						t.Fatalf("container %q: env %q is not KEY=VALUE", c.Name, kv)
					}
				}
			}
		}
	})
}
