package cli_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nriwasm/nriwasm/internal/cli"
	"github.com/nriwasm/nriwasm/internal/config"
	"github.com/nriwasm/nriwasm/internal/testplugins"
	"github.com/nriwasm/nriwasm/nri/sim"
)

// The daemon refuses a config file, a plugin or a plugin directory that
// users other than root could change, unless the config says
// allow_unsafe_permissions = true, and a plugin whose sha256 is not the
// pinned one. What it accepts, it runs: the runtime gets the plugin.
func TestRunTrust(t *testing.T) {
	bin, err := os.ReadFile(testplugins.Path(t, "command"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(bin)
	for _, tc := range []struct {
		name          string
		configMode    fs.FileMode
		dirMode, mode fs.FileMode
		allow         bool
		sha256        string
		want          error // nil: the plugin runs
		words         string
	}{
		{"config writable by others", 0o666, 0o755, 0o644, false, "", config.ErrPermission, "config: mode 0666"},
		{"config writable by others, allowed", 0o666, 0o755, 0o644, true, "", nil, ""},
		{"group-writable plugin directory", 0o644, 0o775, 0o644, false, "", config.ErrPermission, `directory of plugin "command": mode 0775`},
		{"group-writable plugin directory, allowed", 0o644, 0o775, 0o644, true, "", nil, ""},
		{"plugin writable by others", 0o644, 0o755, 0o666, false, "", config.ErrPermission, `plugin "command": mode 0666`},
		{"sha256 mismatch", 0o644, 0o755, 0o644, false, strings.Repeat("0", 64), config.ErrChecksum, "sha256 mismatch"},
		{"sha256 pinned", 0o644, 0o755, 0o644, false, hex.EncodeToString(sum[:]), nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, err := os.MkdirTemp("", "nriwasm-trust-") // short: the socket is in it
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(dir) })
			rt, err := sim.Start(filepath.Join(dir, "nri.sock"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(rt.Stop)
			plugins := filepath.Join(dir, "plugins")
			wasm := filepath.Join(plugins, "10-command.wasm")
			if err := os.Mkdir(plugins, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(wasm, bin, 0o600); err != nil {
				t.Fatal(err)
			}
			body := "socket = " + strconvQuote(rt.Socket()) + "\nplugin_dir = " + strconvQuote(plugins) + "\n"
			if tc.allow {
				body += "allow_unsafe_permissions = true\n"
			}
			if tc.sha256 != "" {
				body += "[[plugin]]\nname = \"command\"\nsha256 = " + strconvQuote(tc.sha256) + "\n"
			}
			path := writeConfig(t, body)
			for p, mode := range map[string]fs.FileMode{path: tc.configMode, plugins: tc.dirMode, wasm: tc.mode} {
				if err := os.Chmod(p, mode); err != nil {
					t.Fatal(err)
				}
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			e, _, errs := env()
			done := make(chan error, 1)
			go func() { done <- cli.Run(ctx, e, path) }()
			if tc.want != nil {
				err := <-done
				if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.words) {
					t.Fatalf("Run: %v, want %v saying %q", err, tc.want, tc.words)
				}
				return
			}
			wait, stop := context.WithTimeout(ctx, time.Minute)
			defer stop()
			if err := rt.WaitPlugins(wait, 1); err != nil {
				t.Fatalf("%v\n%s", err, errs)
			}
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
}
