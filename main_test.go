package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/nri/pkg/api"

	"github.com/nriwasm/nriwasm/internal/testplugins"
	"github.com/nriwasm/nriwasm/internal/testutil"
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
		{[]string{"config"}, 0, "memory_budget = "},
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
	dir := testutil.ShortDir(t)
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
	bin := buildBinary(t, dir, "-X github.com/nriwasm/nriwasm/internal/config.DefaultPath="+config)
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

// buildBinary builds nriwasm into dir with extra -ldflags.
func buildBinary(t *testing.T, dir, ldflags string) string {
	t.Helper()
	bin := filepath.Join(dir, "nriwasm")
	build := exec.Command("go", "build", "-o", bin, "-ldflags", ldflags, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// The daemon tells systemd it is ready once every plugin is registered,
// reloads on SIGHUP (refusing a bad configuration and keeping the running
// one), and stops cleanly on SIGTERM.
func TestDaemonNotifiesReloadsAndStops(t *testing.T) {
	dir := testutil.ShortDir(t)
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	socket, config, plugins := filepath.Join(dir, "nri.sock"), filepath.Join(dir, "config.toml"), testplugins.Dir(t)
	writeConfig := func(extra string) {
		body := fmt.Sprintf("socket = %q\nplugin_dir = %q\ncache_dir = %q\n%s", socket, plugins, filepath.Join(cache, "nriwasm-test-compilation"), extra)
		if err := os.WriteFile(config, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeConfig("")
	rt, err := sim.Start(socket)
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Stop()
	notify, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(dir, "notify.sock"), Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer notify.Close()
	cmd := exec.Command(buildBinary(t, dir, "-s -w"), "run", "-config", config)
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+filepath.Join(dir, "notify.sock"))
	stderr := &testutil.Buffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	// until returns the next notification that starts with prefix, and the
	// ones before it.
	until := func(prefix string) (got string, before []string) {
		t.Helper()
		for {
			notify.SetReadDeadline(time.Now().Add(60 * time.Second))
			buf := make([]byte, 512)
			n, err := notify.Read(buf)
			if err != nil {
				t.Fatalf("no %s notification after %q: %v\n%s", prefix, before, err, stderr)
			}
			if msg := string(buf[:n]); strings.HasPrefix(msg, prefix) {
				return msg, before
			} else {
				before = append(before, msg)
			}
		}
	}
	ready, before := until("READY=1")
	if !strings.Contains(ready, "STATUS=3 plugins registered") || len(before) != 1 || !strings.HasPrefix(before[0], "STATUS=waiting for the runtime") {
		t.Errorf("notifications %q then %q", before, ready)
	}
	// Every plugin answered its Synchronize; the runtime adds it to its
	// list right after.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := rt.WaitPlugins(ctx, 3); err != nil {
		t.Errorf("after READY=1: %v", err)
	}

	writeConfig("bogus = 1\n")
	cmd.Process.Signal(syscall.SIGHUP)
	for deadline := time.Now().Add(60 * time.Second); !strings.Contains(stderr.String(), "reload refused"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no refusal of the bad configuration:\n%s", stderr)
		}
	}
	if !strings.Contains(stderr.String(), "unknown key") {
		t.Errorf("refusal does not say why:\n%s", stderr)
	}
	if err := os.Remove(filepath.Join(plugins, "30-ulimit.wasm")); err != nil {
		t.Fatal(err)
	}
	writeConfig("")
	cmd.Process.Signal(syscall.SIGHUP)
	until("RELOADING=1")
	if ready, _ := until("READY=1"); !strings.Contains(ready, "STATUS=2 plugins registered") {
		t.Errorf("after the reload: %q", ready)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	until("STOPPING=1")
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit after SIGTERM: %v\n%s", err, stderr)
	}
}
