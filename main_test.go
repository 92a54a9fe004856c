package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/nri/pkg/api"

	"github.com/nriwasm/nriwasm/internal/testplugins"
	"github.com/nriwasm/nriwasm/nri/sim"
)

// The commands' contract: usage errors exit 2, failures 1.
func TestExitCodes(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"version"}, 0, "wazero:"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"version", "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"run", "-config", "/nonexistent/config.toml"}, 1, "/nonexistent/config.toml"},
		{[]string{"check", "/nonexistent.wasm"}, 1, "/nonexistent.wasm"},
	} {
		var out, errs bytes.Buffer
		if code := run(context.Background(), tc.args, &out, &errs); code != tc.code || !strings.Contains(out.String()+errs.String(), tc.out) {
			t.Errorf("nriwasm %s: exit %d, output %q; want exit %d mentioning %q", strings.Join(tc.args, " "), code, out.String()+errs.String(), tc.code, tc.out)
		}
	}
}

// Launched mode: the runtime starts nriwasm, symlinked into its plugin path
// as NN-name, with a socket and NRI's environment, and the plugin of that
// name serves the runtime with the config the runtime hands it.
func TestLaunchedByRuntime(t *testing.T) {
	dir, err := os.MkdirTemp("", "nriwasm-launch-") // short: socket paths are limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	for _, d := range []string{"etc", "opt", "conf.d"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(dir, "etc", "config.toml")
	body := "plugin_dir = \"" + testplugins.Dir(t) + "\"\ncache_dir = \"" + filepath.Join(cache, "nriwasm-test-compilation") + "\"\n"
	if err := os.WriteFile(config, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "nriwasm")
	build := exec.Command("go", "build", "-o", bin,
		"-ldflags", "-X github.com/nriwasm/nriwasm/internal/config.DefaultPath="+config, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// As README.md advises: fill the compilation cache first, because the
	// runtime waits only 5 s for a launched plugin to register.
	if out, err := exec.Command(bin, "check", "-config", config, testplugins.Path(t, "injector")).CombinedOutput(); err != nil {
		t.Fatalf("nriwasm check: %v\n%s", err, out)
	}
	if err := os.Symlink(bin, filepath.Join(dir, "opt", "40-injector")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "conf.d", "40-injector.conf"), []byte("env LAUNCHED=yes\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rt, err := sim.Start(filepath.Join(dir, "nri.sock"), sim.Launching(filepath.Join(dir, "opt"), filepath.Join(dir, "conf.d")))
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Stop() // kills the launched process
	ctx := context.Background()
	pod := rt.NewPod("p", "default", "", nil, nil)
	if _, err := rt.Event(ctx, api.Event_RUN_POD_SANDBOX, pod, nil, nil); err != nil {
		t.Fatal(err)
	}
	resp, err := rt.Event(ctx, api.Event_CREATE_CONTAINER, pod, rt.NewContainer(pod, "c", nil, nil, nil, nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	env := resp.(*api.CreateContainerResponse).GetAdjust().GetEnv()
	if len(env) != 1 || env[0].Key != "LAUNCHED" || env[0].Value != "yes" {
		t.Fatalf("launched plugin's adjustment: %v, want LAUNCHED=yes from the runtime's config", env)
	}
}
