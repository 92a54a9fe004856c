package config

import (
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// checkErr fails t unless err matches kind and its message has every want.
func checkErr(t *testing.T, err, kind error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %v", kind)
	}
	if !errors.Is(err, kind) {
		t.Errorf("error %q is not %v", err, kind)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
}

func TestDefaultFile(t *testing.T) {
	data, err := os.ReadFile("../../config.toml")
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse(embedded, data)
	if err != nil {
		t.Fatal(err)
	}
	want := defaultConfig()
	want.File = embedded
	if !reflect.DeepEqual(got, want) {
		t.Errorf("config.toml parses to\n%+v\nwant the built-in defaults\n%+v", got, want)
	}

	// The commented-out [[plugin]] examples must stay valid when uncommented.
	_, examples, ok := strings.Cut(string(data), "\n# [[plugin]]\n")
	if !ok {
		t.Fatal("config.toml has no commented [[plugin]] example")
	}
	var doc strings.Builder
	doc.WriteString("[[plugin]]\n")
	for line := range strings.Lines(examples) {
		line = strings.TrimPrefix(line, "#")
		doc.WriteString(strings.TrimPrefix(line, " "))
	}
	got, err = Parse(embedded, []byte(doc.String()))
	if err != nil {
		t.Fatalf("uncommented examples: %v\n%s", err, doc.String())
	}
	if len(got.Plugins) != 2 || got.Plugins[0].SHA256 == "" || got.Plugins[1].Index != "" {
		t.Errorf("uncommented examples: want an injector with sha256 and an override without index, got %+v", got.Plugins)
	}
}

func TestParse(t *testing.T) {
	doc := `
socket = "run/nri.sock"   # relative: to the config's directory
plugin_dir = ""
cache_dir = "/tmp/cache"
engine = "interpreter"
memory_budget = "0"
log_level = "debug"
allow_unsafe_permissions = true

[defaults]
memory_limit = "8MiB"
timeout = "250ms"
on_error = "ignore"
config = "common"

[[plugin]]
name = "inj.v2+x_y-z"
index = "07"
path = "plugins/inj.wasm"
sha256 = "ABCDEF0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789"
config = '''
env A=b
'''

[[plugin]]
name = "bare"
`
	got, err := Parse("/etc/nriwasm/config.toml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		File:                   "/etc/nriwasm/config.toml",
		Socket:                 "/etc/nriwasm/run/nri.sock",
		CacheDir:               "/tmp/cache",
		Engine:                 "interpreter",
		LogLevel:               slog.LevelDebug,
		AllowUnsafePermissions: true,
		Defaults:               Plugin{MemoryLimit: 8 << 20, Timeout: 250 * time.Millisecond, OnError: Ignore, Config: "common"},
		Plugins: []Plugin{{
			Name:   "inj.v2+x_y-z",
			Index:  "07",
			Path:   "/etc/nriwasm/plugins/inj.wasm",
			SHA256: "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789",
			Config: "env A=b\n",
			Origin: "/etc/nriwasm/config.toml:16",
		}, {
			Name:   "bare", // the rest is filled by Resolve
			Origin: "/etc/nriwasm/config.toml:25",
		}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%+v\nwant\n%+v", got, want)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		kind error
		want []string // each in the error's message
	}{
		{"syntax", "engine = \"auto\nlog_level = \"info\"", ErrSyntax,
			[]string{"t.toml:1: syntax error: "}},
		{"duplicate key", "engine = \"auto\"\nengine = \"compiler\"", ErrSyntax,
			[]string{"t.toml:2: syntax error: ", "engine"}},
		{"unknown key suggestion", "socket = \"/s\"\nlgo_level = \"info\"", ErrUnknownKey,
			[]string{`t.toml:2: lgo_level: unknown key (did you mean "log_level"?)`}},
		{"unknown table suggestion", "[[plugins]]\nname = \"a\"", ErrUnknownKey,
			[]string{`t.toml:1: plugins: unknown key (did you mean [[plugin]]?)`}},
		{"unknown key in plugin", "[[plugin]]\nname = \"a\"\nindex = \"01\"\npath = \"a.wasm\"\nmemory_limt = \"1MiB\"", ErrUnknownKey,
			[]string{`t.toml:5: plugin[1].memory_limt: unknown key (did you mean "memory_limit"?)`}},
		{"unknown key no suggestion", "[defaults]\ncolour = \"red\"", ErrUnknownKey,
			[]string{`t.toml:2: defaults.colour: unknown key (want one of memory_limit, timeout, on_error, config)`}},
		{"top-level key in a table", "[defaults]\ntimeout = \"1s\"\nengine = \"auto\"", ErrUnknownKey,
			[]string{`t.toml:3: defaults.engine: `, "top-level key: move it above the first [table] header"}},
		{"top-level key typo in a table", "[[plugin]]\nname = \"a\"\nplugn_dir = \"p\"", ErrUnknownKey,
			[]string{`t.toml:3: plugin[1].plugn_dir: unknown key in plugin[1] (did you mean "plugin_dir"? it is a top-level key`}},
		{"plugin key at top level", "timeout = \"1s\"", ErrUnknownKey,
			[]string{`t.toml:1: timeout: unknown top-level key (want it under [defaults] or a [[plugin]])`}},
		{"identity key in defaults", "[defaults]\npath = \"a.wasm\"", ErrUnknownKey,
			[]string{`t.toml:2: defaults.path: not allowed in [defaults]`}},
		{"bad size", "memory_budget = \"16MB\"", ErrInvalid,
			[]string{`t.toml:1: memory_budget: invalid size "16MB"`, `"16MiB"`}},
		{"integer for size", "[defaults]\nmemory_limit = 16", ErrInvalid,
			[]string{`t.toml:2: defaults.memory_limit: got integer 16 without a unit (want a string such as "16MiB")`}},
		{"memory limit below a page", "[[plugin]]\nname = \"a\"\nmemory_limit = \"1KiB\"", ErrInvalid,
			[]string{`t.toml:3: plugin[1].memory_limit: 1024 bytes`, "at least 64KiB"}},
		{"memory limit above 4GiB", "[defaults]\nmemory_limit = \"5GiB\"", ErrInvalid,
			[]string{`t.toml:2: defaults.memory_limit: 5368709120 bytes`, "at most 4GiB"}},
		{"bad duration", "[defaults]\ntimeout = \"1 second\"", ErrInvalid,
			[]string{`t.toml:2: defaults.timeout: invalid duration "1 second"`}},
		{"zero duration", "[defaults]\ntimeout = \"0s\"", ErrInvalid,
			[]string{`t.toml:2: defaults.timeout: duration "0s" is not positive`}},
		{"integer for duration", "[defaults]\ntimeout = 2", ErrInvalid,
			[]string{`t.toml:2: defaults.timeout: got integer 2 without a unit`, `"2s"`}},
		{"bad engine", "engine = \"jit\"", ErrInvalid,
			[]string{`t.toml:1: engine: invalid value "jit" (want one of "auto", "compiler", "interpreter")`}},
		{"bad log level", "log_level = \"verbose\"", ErrInvalid,
			[]string{`t.toml:1: log_level: invalid value "verbose"`}},
		{"boolean as string", "allow_unsafe_permissions = \"yes\"", ErrInvalid,
			[]string{`t.toml:1: allow_unsafe_permissions: got string "yes" (want true or false, unquoted)`}},
		{"empty socket", "socket = \"\"", ErrInvalid,
			[]string{`t.toml:1: socket: empty`}},
		{"bad on_error", "[[plugin]]\nname = \"a\"\n[[plugin]]\nname = \"b\"\non_error = \"retry\"", ErrInvalid,
			[]string{`t.toml:5: plugin[2].on_error: invalid value "retry" (want one of "fail", "ignore")`}},
		{"bad name", "[[plugin]]\nname = \"my plugin\"", ErrInvalid,
			[]string{`t.toml:2: plugin[1].name: invalid name "my plugin"`}},
		{"missing name", "[[plugin]]\nindex = \"01\"", ErrInvalid,
			[]string{`t.toml:1: plugin[1].name: missing`}},
		{"bad index", "[[plugin]]\nname = \"a\"\nindex = \"1\"", ErrInvalid,
			[]string{`t.toml:3: plugin[1].index: invalid index "1" (want two digits "00" to "99")`}},
		{"integer index", "[[plugin]]\nname = \"a\"\nindex = 5", ErrInvalid,
			[]string{`t.toml:3: plugin[1].index: got integer 5`, `"05"`}},
		{"bad sha256", "[[plugin]]\nname = \"a\"\nsha256 = \"abc\"", ErrInvalid,
			[]string{`t.toml:3: plugin[1].sha256: invalid sha256 "abc"`}},
		{"plugin as a single table", "[plugin]\nname = \"a\"", ErrInvalid,
			[]string{`t.toml:1: plugin: got a single table [plugin] (want [[plugin]]`}},
		{"defaults not a table", "defaults = 3", ErrInvalid,
			[]string{`t.toml:1: defaults: got integer 3 (want a table: [defaults])`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("t.toml", []byte(tt.doc))
			if c != nil {
				t.Errorf("config %+v returned with an error", c)
			}
			checkErr(t, err, tt.kind, tt.want...)
			if n := strings.Count(err.Error(), "\n"); n != 0 {
				t.Errorf("want one problem, got %d:\n%v", n+1, err)
			}
		})
	}
}

// TestParseErrorsTogether: every problem of a document, in document order.
func TestParseErrorsTogether(t *testing.T) {
	doc := `engine = "jit"
[defaults]
timeout = 1
[[plugin]]
nmae = "a"
`
	_, err := Parse("t.toml", []byte(doc))
	want := []string{
		`t.toml:1: engine: invalid value "jit"`,
		`t.toml:3: defaults.timeout: got integer 1`,
		`t.toml:4: plugin[1].name: missing`,
		`t.toml:5: plugin[1].nmae: unknown key (did you mean "name"?)`,
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%v", len(lines), len(want), err)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("problem %d is %q, want it to start with %q", i+1, lines[i], w)
		}
	}
	for _, kind := range []error{ErrInvalid, ErrUnknownKey} {
		if !errors.Is(err, kind) {
			t.Errorf("errors.Is(%v) is false", kind)
		}
	}
}

func TestKeyLines(t *testing.T) {
	doc := `a = 1 # [not a table]
[[plugin]]
name = """
x = 1
[fake]
"""""
b.c = [
  1, # ]
  "]", '[',
]
"quoted.key" = { x = 1, y = [2] }
[[plugin]]
'lit' = 'a#b'
[plugin.sub]
z = '''
'''
after = 1
`
	want := map[string]int{
		"a": 1, "plugin": 2, "plugin[1]": 2, "plugin[1].name": 3,
		"plugin[1].b": 7, "plugin[1].b.c": 7, `plugin[1]."quoted.key"`: 11,
		"plugin[2]": 12, "plugin[2].lit": 13, "plugin[2].sub": 14,
		"plugin[2].sub.z": 15, "plugin[2].sub.after": 17,
	}
	if got := keyLines([]byte(doc)); !reflect.DeepEqual(got, want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	write := func(name, doc string, mode fs.FileMode) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		return path
	}

	t.Run("world-writable", func(t *testing.T) {
		path := write("ww.toml", "engine = \"auto\"\n", 0o666)
		_, err := Load(path, nil)
		checkErr(t, err, ErrPermission, path+": config: mode 0666", "world-writable", "allow_unsafe_permissions = true")
	})
	t.Run("world-writable allowed", func(t *testing.T) {
		path := write("allowed.toml", "allow_unsafe_permissions = true\n", 0o666)
		c, err := Load(path, nil)
		if err != nil || !c.AllowUnsafePermissions || c.File != path {
			t.Fatalf("got %+v, %v", c, err)
		}
	})
	t.Run("group-writable and invalid", func(t *testing.T) {
		path := write("gw.toml", "engine = \"jit\"\n", 0o620)
		_, err := Load(path, nil)
		checkErr(t, err, ErrPermission, "group-writable", path+":1: engine: invalid value")
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("want the invalid value reported too: %v", err)
		}
	})
	t.Run("missing", func(t *testing.T) {
		path := filepath.Join(dir, "nope.toml")
		_, err := Load(path, nil)
		checkErr(t, err, ErrNotFound, path+": cannot read config: no such file or directory")
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("want fs.ErrNotExist in %v", err)
		}
	})
	t.Run("ok", func(t *testing.T) {
		path := write("ok.toml", "plugin_dir = \"p\"\n", 0o644)
		c, err := Load(path, nil)
		if err != nil || c.PluginDir != filepath.Join(dir, "p") {
			t.Fatalf("got %+v, %v", c, err)
		}
	})
	t.Run("embedded", func(t *testing.T) {
		if _, err := os.Stat(DefaultPath); err == nil {
			t.Skip(DefaultPath, " exists")
		}
		c, err := Load("", []byte("engine = \"compiler\"\n"))
		if err != nil || c.File != embedded || c.Engine != "compiler" {
			t.Fatalf("got %+v, %v", c, err)
		}
	})
}

func FuzzParse(f *testing.F) {
	data, err := os.ReadFile("../../config.toml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte("[[plugin]]\nname = \"a\"\nindex = \"01\"\npath = \"a.wasm\"\nmemory_limit = 16\n"))
	f.Add([]byte("plugin = [{name = \"x\", bogus = 1}]\n[defaults]\ntimeout = \"-1s\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("f.toml", data)
		if (c == nil) == (err == nil) {
			t.Fatalf("got config %v and error %v", c, err)
		}
		if err == nil {
			return
		}
		for line := range strings.Lines(err.Error()) {
			if !strings.HasPrefix(line, "f.toml") {
				t.Errorf("problem %q does not start with the file name", line)
			}
		}
	})
}
