package config

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// module is the smallest valid Wasm binary: the header alone.
const module = "\x00asm\x01\x00\x00\x00"

type file struct {
	data string
	mode fs.FileMode // 0 = 0644
}

// setup writes files under a new directory, chmods them (the umask would
// hide group and world bits) and parses doc as DIR/t.toml.
func setup(t *testing.T, files map[string]file, doc string) (*Config, string) {
	t.Helper()
	dir := t.TempDir()
	for name, f := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(f.data), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, cmpOr(f.mode, 0o644)); err != nil {
			t.Fatal(err)
		}
	}
	c, err := Parse(filepath.Join(dir, "t.toml"), []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return c, dir
}

func cmpOr(m, def fs.FileMode) fs.FileMode {
	if m == 0 {
		return def
	}
	return m
}

func sum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func TestResolve(t *testing.T) {
	c, dir := setup(t, map[string]file{
		"plugins/10-a.wasm": {data: module},
		"plugins/10-a.conf": {data: "conf of a"},
		"plugins/20-b.wasm": {data: module},
		"plugins/20-b.conf": {data: "replaced"},
		"plugins/30-c.conf": {data: "no module: ignored"},
		"plugins/README":    {data: "ignored"},
		"extra/d.wasm":      {data: module + "more"},
	}, `plugin_dir = "plugins"
[defaults]
timeout = "2s"
config = "default"

[[plugin]]
name = "b"
config = "override"
memory_limit = "1MiB"

[[plugin]]
name = "d"
index = "05"
path = "extra/d.wasm"
sha256 = "`+sum(module+"more")+`"
on_error = "ignore"
`)
	if err := c.Resolve(); err != nil {
		t.Fatal(err)
	}
	mem := uint64(32 << 20)
	want := []Plugin{{
		Name: "d", Index: "05", Path: filepath.Join(dir, "extra/d.wasm"), SHA256: sum(module + "more"),
		MemoryLimit: mem, Timeout: 2 * time.Second, OnError: Ignore, Config: "default",
		Origin: filepath.Join(dir, "t.toml") + ":11",
	}, {
		Name: "a", Index: "10", Path: filepath.Join(dir, "plugins/10-a.wasm"),
		MemoryLimit: mem, Timeout: 2 * time.Second, OnError: Fail, Config: "conf of a",
		Origin: filepath.Join(dir, "plugins/10-a.wasm"),
	}, {
		Name: "b", Index: "20", Path: filepath.Join(dir, "plugins/20-b.wasm"),
		MemoryLimit: 1 << 20, Timeout: 2 * time.Second, OnError: Fail, Config: "override",
		Origin: filepath.Join(dir, "t.toml") + ":6",
	}}
	if !slices.Equal(c.Plugins, want) {
		t.Errorf("got\n%+v\nwant\n%+v", c.Plugins, want)
	}
}

// TestResolveCallerChanges: fields set between Load and Resolve apply.
func TestResolveCallerChanges(t *testing.T) {
	c, dir := setup(t, map[string]file{"flag/01-x.wasm": {data: module}}, `plugin_dir = "/nonexistent"`)
	c.PluginDir = filepath.Join(dir, "flag")
	c.Defaults.Timeout = time.Minute
	if err := c.Resolve(); err != nil {
		t.Fatal(err)
	}
	if len(c.Plugins) != 1 || c.Plugins[0].Name != "x" || c.Plugins[0].Timeout != time.Minute {
		t.Errorf("got %+v", c.Plugins)
	}
}

// TestResolveEmbeddedRelative: the embedded document's paths are relative to
// the working directory.
func TestResolveEmbeddedRelative(t *testing.T) {
	_, dir := setup(t, map[string]file{"wd/x.wasm": {data: module}}, "")
	t.Chdir(filepath.Join(dir, "wd"))
	c, err := Parse(embedded, []byte("plugin_dir = \"\"\n[[plugin]]\nname = \"x\"\nindex = \"01\"\npath = \"x.wasm\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Plugins[0].Path != "x.wasm" {
		t.Errorf("after Parse, path %q, want it as written", c.Plugins[0].Path)
	}
	if err := c.Resolve(); err != nil {
		t.Fatal(err)
	}
	if got, want := c.Plugins[0].Path, filepath.Join(dir, "wd/x.wasm"); got != want {
		t.Errorf("after Resolve, path %q, want %q", got, want)
	}
}

func TestResolveErrors(t *testing.T) {
	elf := "\x7fELF\x02\x01\x01\x00rest"
	tests := []struct {
		name  string
		files map[string]file
		doc   string
		kind  error
		want  []string // in the error's message; DIR is the test's directory
	}{
		{"duplicate name",
			map[string]file{"a.wasm": {data: module}},
			"plugin_dir = \"\"\n[[plugin]]\nname = \"a\"\nindex = \"01\"\npath = \"a.wasm\"\n[[plugin]]\nname = \"a\"\nindex = \"02\"\npath = \"a.wasm\"\n",
			ErrDuplicate, []string{`DIR/t.toml:6: name: plugin "a" is already defined at DIR/t.toml:2`}},
		{"duplicate index",
			map[string]file{"p/10-a.wasm": {data: module}, "b.wasm": {data: module}},
			"plugin_dir = \"p\"\n[[plugin]]\nname = \"b\"\nindex = \"10\"\npath = \"b.wasm\"\n",
			ErrDuplicate, []string{`index "10" of plugin "`, `DIR/t.toml:2`, `DIR/p/10-a.wasm`}},
		{"duplicate name in plugin_dir",
			map[string]file{"p/10-a.wasm": {data: module}, "p/20-a.wasm": {data: module}},
			`plugin_dir = "p"`,
			ErrDuplicate, []string{`DIR/p/20-a.wasm: plugin "a" is also DIR/p/10-a.wasm`}},
		{"missing index and path",
			nil,
			"plugin_dir = \"p\"\n[[plugin]]\nname = \"new\"\n",
			ErrInvalid, []string{`DIR/t.toml:2: index: plugin "new" has none and plugin_dir has no NN-new.wasm`, `DIR/t.toml:2: path: `}},
		{"missing file",
			nil,
			"plugin_dir = \"\"\n[[plugin]]\nname = \"a\"\nindex = \"01\"\npath = \"nope.wasm\"\n",
			ErrNotFound, []string{`DIR/nope.wasm: plugin "a" (DIR/t.toml:2): cannot open: no such file or directory`}},
		{"not a regular file",
			map[string]file{"p/01-d.wasm/x": {data: "x"}},
			`plugin_dir = "p"`,
			ErrNotFound, []string{`DIR/p/01-d.wasm: plugin "d": not a regular file (mode d`}},
		{"ELF",
			map[string]file{"p/01-x.wasm": {data: elf}},
			`plugin_dir = "p"`,
			ErrNotWasm, []string{`DIR/p/01-x.wasm: plugin "x": not a Wasm module: starts with 7f454c46 (an ELF executable?)`}},
		{"component",
			map[string]file{"p/01-x.wasm": {data: "\x00asm\x0d\x00\x01\x00"}},
			`plugin_dir = "p"`,
			ErrNotWasm, []string{`version 0d000100 (a Wasm component, not a core module)`}},
		{"truncated",
			map[string]file{"p/01-x.wasm": {data: "\x00as"}},
			`plugin_dir = "p"`,
			ErrNotWasm, []string{`DIR/p/01-x.wasm: plugin "x": not a Wasm module: truncated: 3 bytes`}},
		{"sha256 mismatch",
			map[string]file{"p/01-x.wasm": {data: module}},
			"plugin_dir = \"p\"\n[[plugin]]\nname = \"x\"\nsha256 = \"" + strings.Repeat("0", 64) + "\"\n",
			ErrChecksum, []string{`DIR/p/01-x.wasm: plugin "x" (DIR/t.toml:2): sha256 mismatch (want ` + strings.Repeat("0", 64) + `, got ` + sum(module) + `)`}},
		{"group-writable plugin",
			map[string]file{"p/01-x.wasm": {data: module, mode: 0o664}},
			`plugin_dir = "p"`,
			ErrPermission, []string{`DIR/p/01-x.wasm: plugin "x": mode 0664 owner uid `, `group-writable`}},
		{"world-writable directory",
			map[string]file{"p/01-x.wasm": {data: module}, "p": {mode: 0o777 | fs.ModeDir}},
			`plugin_dir = "p"`,
			ErrPermission, []string{`DIR/p: directory of plugin "x": mode 0777`, `world-writable`}},
		{"group-writable conf",
			map[string]file{"p/01-x.wasm": {data: module}, "p/01-x.conf": {data: "c", mode: 0o660}},
			`plugin_dir = "p"`,
			ErrPermission, []string{`DIR/p/01-x.conf: plugin config: mode 0660`}},
		{"badly named wasm",
			map[string]file{"p/01-x.wasm": {data: module}, "p/x.wasm": {data: module}},
			`plugin_dir = "p"`,
			ErrInvalid, []string{`DIR/p/x.wasm: badly named plugin file (want NN-name.wasm`}},
		{"no plugins",
			map[string]file{"p/README": {data: "x"}},
			`plugin_dir = "p"`,
			ErrNoPlugins, []string{`DIR/t.toml: plugin_dir: no plugins: put NN-name.wasm files in plugin_dir (DIR/p) or add [[plugin]] entries with a path`}},
		{"no plugin_dir",
			nil,
			`plugin_dir = "p"`,
			ErrNoPlugins, []string{`no plugins: put NN-name.wasm files in plugin_dir (DIR/p: no such file or directory)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]file{}
			for name, f := range tt.files {
				if f.mode&fs.ModeDir == 0 {
					files[name] = f
				}
			}
			c, dir := setup(t, files, tt.doc)
			for name, f := range tt.files { // directory modes, once their files exist
				if f.mode&fs.ModeDir != 0 {
					if err := os.Chmod(filepath.Join(dir, name), f.mode.Perm()); err != nil {
						t.Fatal(err)
					}
				}
			}
			err := c.Resolve()
			want := make([]string, len(tt.want))
			for i, w := range tt.want {
				want[i] = strings.ReplaceAll(w, "DIR", dir)
			}
			checkErr(t, err, tt.kind, want...)
			if tt.kind == ErrPermission {
				// The same files are fine when the config allows it.
				c, _ := setup(t, files, tt.doc+"\nallow_unsafe_permissions = true\n")
				c.PluginDir = filepath.Join(dir, "p")
				if err := c.Resolve(); err != nil {
					t.Errorf("with allow_unsafe_permissions: %v", err)
				}
			}
		})
	}
}

// TestResolveMissingDirWithEntries: a missing plugin_dir is fine when
// [[plugin]] entries define plugins.
func TestResolveMissingDirWithEntries(t *testing.T) {
	c, _ := setup(t, map[string]file{"a.wasm": {data: module}},
		"plugin_dir = \"nope\"\n[[plugin]]\nname = \"a\"\nindex = \"01\"\npath = \"a.wasm\"\n")
	if err := c.Resolve(); err != nil {
		t.Fatal(err)
	}
	if len(c.Plugins) != 1 {
		t.Errorf("got %+v", c.Plugins)
	}
}

func TestResolveErrorsAreLines(t *testing.T) {
	c, _ := setup(t, map[string]file{
		"p/01-x.wasm": {data: "junk!!!!"},
		"p/bad.wasm":  {data: module},
	}, "plugin_dir = \"p\"\n[[plugin]]\nname = \"y\"\n")
	err := c.Resolve()
	if n := len(strings.Split(err.Error(), "\n")); n != 4 { // bad name, no index, no path, not Wasm
		t.Errorf("want 4 problems, got %d:\n%v", n, err)
	}
	for _, kind := range []error{ErrInvalid, ErrNotWasm} {
		if !errors.Is(err, kind) {
			t.Errorf("errors.Is(%v) is false: %v", kind, err)
		}
	}
	if c.Plugins[0].Name != "y" {
		t.Errorf("a failed Resolve changed Plugins: %+v", c.Plugins)
	}
}
