// Package build_test checks the packaging files that need no tools beyond sh
// and awk: OpenWrt's UCI-to-TOML rendering, the k3s template and the memory
// limits the service definitions derive from the budget. install.sh and the
// rest are tested by `make test-install`.
package build_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"text/template"

	"github.com/BurntSushi/toml"

	"github.com/nriwasm/nriwasm/internal/config"
)

// render runs the OpenWrt renderer on a UCI file (relative to openwrt/).
func render(t *testing.T, uci string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := exec.Command("sh", "files/nriwasm-uci2toml", uci)
	cmd.Dir = "openwrt"
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

func TestUCIToTOML(t *testing.T) {
	for _, tc := range []struct{ uci, golden string }{
		{"files/nriwasm.config", "testdata/default.toml"}, // the configuration the package installs
		{"testdata/full.uci", "testdata/full.toml"},
		{"testdata/minimal.uci", "testdata/minimal.toml"},
	} {
		t.Run(tc.uci, func(t *testing.T) {
			got, stderr, err := render(t, tc.uci)
			if err != nil {
				t.Fatalf("%v: %s", err, stderr)
			}
			want, err := os.ReadFile(filepath.Join("openwrt", tc.golden))
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("rendered:\n%s\nwant (%s):\n%s", got, tc.golden, want)
			}
			if _, err := config.Parse(tc.golden, []byte(got)); err != nil {
				t.Errorf("nriwasm refuses the rendered configuration: %v", err)
			}
		})
	}

	// What nriwasm reads from the rendering of every kind of value.
	got, _, err := render(t, "testdata/full.uci")
	if err != nil {
		t.Fatal(err)
	}
	c, err := config.Parse("full.toml", []byte(got))
	if err != nil {
		t.Fatal(err)
	}
	if c.MemoryBudget != 96<<20 || c.CacheDir != "" || c.AllowUnsafePermissions {
		t.Errorf("memory_budget %d, cache_dir %q, allow_unsafe_permissions %v: want the later option, \"\", false",
			c.MemoryBudget, c.CacheDir, c.AllowUnsafePermissions)
	}
	if want := `mode="strict" dir=C:\plugins`; c.Defaults.Config != want {
		t.Errorf("defaults config %q, want %q", c.Defaults.Config, want)
	}
	if len(c.Plugins) != 2 {
		t.Fatalf("%d plugins, want 2", len(c.Plugins))
	}
	if want := "env INJECTED_BY=nriwasm\nenv QUOTED='single'\nannotation\tnriwasm.io/injected=true"; c.Plugins[0].Config != want {
		t.Errorf("list config rendered as %q, want %q", c.Plugins[0].Config, want)
	}
}

func TestUCIToTOMLErrors(t *testing.T) {
	for _, tc := range []struct{ name, uci, want string }{
		{"section type", "config foo\n", `:1: section type "foo": want nriwasm, defaults or plugin`},
		{"quote", "config nriwasm 'main'\n\toption socket '/run/nri.sock\n", ":2: unterminated quote"},
		{"boolean", "config nriwasm 'main'\n\toption allow_unsafe_permissions 'maybe'\n", `:2: "maybe" is not a boolean`},
		{"no section", "option socket '/x'\n", ":1: option before the first config line"},
		{"two mains", "config nriwasm\nconfig nriwasm\n", ":2: a second nriwasm section"},
		{"no value", "config plugin\n\toption name\n", ":2: want: option NAME VALUE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "nriwasm")
			if err := os.WriteFile(file, []byte(tc.uci), 0o644); err != nil {
				t.Fatal(err)
			}
			out, stderr, err := render(t, file)
			if err == nil || out != "" || !strings.Contains(stderr, file+tc.want) {
				t.Errorf("got error %v, stdout %q, stderr %q; want a failure saying %q", err, out, stderr, file+tc.want)
			}
		})
	}
}

// defaults is nriwasm's documented default configuration.
func defaults(t *testing.T) *config.Config {
	t.Helper()
	data, err := os.ReadFile("../config.toml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := config.Parse("config.toml", data)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The snippet in the k3s guide is a template k3s can execute, and what it
// renders is TOML that turns NRI on at nriwasm's socket.
func TestK3sTemplate(t *testing.T) {
	snippet, err := os.ReadFile("k3s/config-v3.toml.tmpl")
	if err != nil {
		t.Fatal(err)
	}
	// A stand-in for k3s's "base": the generated containerd configuration.
	tmpl := template.Must(template.New("base").Parse(`version = 3

[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
`))
	if _, err := tmpl.New("config-v3.toml.tmpl").Parse(string(snippet)); err != nil {
		t.Fatalf("not a Go template: %v", err)
	}
	var out bytes.Buffer
	if err := tmpl.ExecuteTemplate(&out, "config-v3.toml.tmpl", struct{}{}); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Plugins map[string]map[string]any
	}
	if _, err := toml.Decode(out.String(), &doc); err != nil {
		t.Fatalf("rendered template is not TOML: %v\n%s", err, out.String())
	}
	nri := doc.Plugins["io.containerd.nri.v1.nri"]
	if nri["disable"] != false || nri["socket_path"] != defaults(t).Socket {
		t.Errorf("NRI table %v: want disable = false, socket_path = %q", nri, defaults(t).Socket)
	}
}

// Every service definition bounds nriwasm's memory at the budget x 1.25
// (soft) and x 1.5 (hard), leaving room for code and the Go runtime.
func TestMemoryLimitsFollowBudget(t *testing.T) {
	data, err := os.ReadFile("k8s/config.toml")
	if err != nil {
		t.Fatal(err)
	}
	k8s, err := config.Parse("k8s/config.toml", data)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		file       string
		budget     uint64
		soft, hard string // the limits' formats, in MiB
	}{
		{"systemd/nriwasm.service", defaults(t).MemoryBudget, "\nMemoryHigh=%dM\n", "\nMemoryMax=%dM\n"},
		{"openrc/nriwasm", defaults(t).MemoryBudget, "\nmemory.high %dM\n", "\nmemory.max %dM\n"},
		{"k8s/daemonset.yaml", k8s.MemoryBudget, "requests:\n              memory: %dMi\n", "limits:\n              memory: %dMi\n"},
	} {
		data, err := os.ReadFile(tc.file)
		if err != nil {
			t.Fatal(err)
		}
		mib := tc.budget >> 20
		for _, want := range []string{fmt.Sprintf(tc.soft, mib*5/4), fmt.Sprintf(tc.hard, mib*3/2)} {
			if !strings.Contains(string(data), want) {
				t.Errorf("%s lacks %q (budget %d MiB)", tc.file, want, mib)
			}
		}
	}
}
