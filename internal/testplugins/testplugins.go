// Package testplugins builds the Wasm plugins of wasm/plugins for tests: the
// example plugins and the test guests, on first use.
//
// Builds are cached across test binaries and runs in
// os.UserCacheDir()/nriwasm-testplugins/HASH/, where HASH covers every file
// of wasm/plugins and the Go version: a changed source means a new build, an
// unchanged one none. A lock file serializes the builds of the test binaries
// that `go test ./...` runs in parallel. Builds of sources not used for a day
// are removed.
package testplugins

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// source says how one plugin is built, from paths relative to wasm/plugins.
type source struct {
	module, pkg string // a Go guest: its module directory and package
	wat         string // a WAT guest
	c           string // a C guest (clang and wasi-libc)
}

var sources = map[string]source{
	// The example plugins that make plugins ships.
	"logger":    {module: ".", pkg: "./cmd/logger"},
	"injector":  {module: ".", pkg: "./cmd/injector"},
	"ulimit":    {module: ".", pkg: "./cmd/ulimit"},
	"cinjector": {c: "c/injector.c"},
	// Test guests: see their package comments.
	"fault":   {module: ".", pkg: "./test/fault"},
	"v010":    {module: "test/v010", pkg: "."},
	"command": {wat: "test/command.wat"},
	"sandbox": {module: ".", pkg: "./test/sandbox"},
	// Broken on purpose: see test/hostile/*.wat.
	"hostile":     {wat: "test/hostile/hostile.wat"},
	"empty":       {wat: "test/hostile/empty.wat"},
	"init-spin":   {wat: "test/hostile/init_spin.wat"},
	"init-trap":   {wat: "test/hostile/init_trap.wat"},
	"start-trap":  {wat: "test/hostile/start_trap.wat"},
	"bad-version": {wat: "test/hostile/bad_version.wat"},
	"no-exports":  {wat: "test/hostile/no_exports.wat"},
}

// Names lists the plugins Path builds, sorted.
func Names() []string { return slices.Sorted(maps.Keys(sources)) }

// Path returns the path of the compiled plugin name (one of Names), building
// it if needed. The file is shared: do not modify it.
func Path(tb testing.TB, name string) string {
	tb.Helper()
	src, ok := sources[name]
	if !ok {
		tb.Fatalf("testplugins: unknown plugin %q (want one of %s)", name, strings.Join(Names(), ", "))
	}
	c, err := openCache()
	if err != nil {
		tb.Fatal(err)
	}
	path, err := c.build(name, src)
	if err != nil {
		tb.Fatal(err)
	}
	return path
}

// Layout is the plugin directory Dir makes, as `make plugins` lays it out:
// file name to plugin name.
var Layout = map[string]string{
	"10-logger.wasm":   "logger",
	"20-injector.wasm": "injector",
	"30-ulimit.wasm":   "ulimit",
}

// Dir returns a new directory laid out like a plugin_dir: Layout's files and
// 20-injector.conf, the injector's demo config. Files are copies, mode 0644,
// in a directory of mode 0755.
func Dir(tb testing.TB) string {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "plugins")
	if err := os.Mkdir(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	c, err := openCache()
	if err != nil {
		tb.Fatal(err)
	}
	files := map[string]string{"20-injector.conf": filepath.Join(c.src, "cmd/injector/demo.conf")}
	for file, name := range Layout {
		files[file] = Path(tb, name)
	}
	for file, from := range files {
		if err := copyFile(filepath.Join(dir, file), from); err != nil {
			tb.Fatal(err)
		}
	}
	// Modes exactly as documented, whatever the umask.
	if err := os.Chmod(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	return dir
}

func copyFile(dst, src string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		return err
	}
	return os.Chmod(dst, 0o644)
}

// cache is the build directory of the current sources.
type cache struct {
	src string // wasm/plugins
	dir string
}

// openCache finds the sources and hashes them, once per test binary.
var openCache = sync.OnceValues(func() (*cache, error) {
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	src := filepath.Join(root, "wasm", "plugins")
	out, err := exec.Command("go", "env", "GOVERSION").Output()
	if err != nil {
		return nil, fmt.Errorf("testplugins: go env GOVERSION: %w", err)
	}
	hash, err := hashTree(src, strings.TrimSpace(string(out)))
	if err != nil {
		return nil, err
	}
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	base = filepath.Join(base, "nriwasm-testplugins")
	dir := filepath.Join(base, hash)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("testplugins: %w", err)
	}
	// The directory's mtime says when it was last used.
	now := time.Now()
	if err := os.Chtimes(dir, now, now); err != nil {
		return nil, fmt.Errorf("testplugins: %w", err)
	}
	prune(base, now.Add(-24*time.Hour))
	return &cache{src: src, dir: dir}, nil
})

// prune removes the builds last used before cutoff: every edit of the
// sources leaves ~50 MB behind. Errors are ignored; another test binary may
// be pruning too.
func prune(base string, cutoff time.Time) {
	entries, _ := os.ReadDir(base)
	for _, e := range entries {
		if info, err := e.Info(); err == nil && e.IsDir() && info.ModTime().Before(cutoff) {
			os.RemoveAll(filepath.Join(base, e.Name()))
		}
	}
}

const module = "github.com/nriwasm/nriwasm"

// repoRoot walks up from the working directory (a test's package directory)
// to the go.mod of the root module.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if modulePath(filepath.Join(dir, "go.mod")) == module {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("testplugins: no go.mod of module %s above the working directory", module)
		}
		dir = parent
	}
}

// modulePath returns the module path declared by a go.mod, or "".
func modulePath(gomod string) string {
	f, err := os.Open(gomod)
	if err != nil {
		return ""
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(s.Text()), "module"); ok && rest != "" && (rest[0] == ' ' || rest[0] == '\t') {
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	return ""
}

// hashTree hashes the names and contents of the files under dir, and salt.
func hashTree(dir, salt string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00", salt)
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		rel, _ := filepath.Rel(dir, path)
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", filepath.ToSlash(rel), fi.Size())
		_, err = io.Copy(h, f)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("testplugins: hashing %s: %w", dir, err)
	}
	return hex.EncodeToString(h.Sum(nil))[:24], nil
}

// build returns the cached plugin, building it under the lock if missing.
// A plugin appears in the cache by rename only, so one that exists is whole.
func (c *cache) build(name string, src source) (string, error) {
	out := filepath.Join(c.dir, name+".wasm")
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	unlock, err := lock(filepath.Join(c.dir, ".lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if _, err := os.Stat(out); err == nil {
		return out, nil // built by another test binary while we waited
	}
	tmp, err := os.MkdirTemp(c.dir, name+".tmp")
	if err != nil {
		return "", fmt.Errorf("testplugins: %w", err)
	}
	defer os.RemoveAll(tmp)
	built := filepath.Join(tmp, name+".wasm")
	cmd, err := c.command(src, built)
	if err != nil {
		return "", err
	}
	if output, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("testplugins: building %s: %s: %v\n%s", name, strings.Join(cmd.Args, " "), err, output)
	}
	if err := os.Rename(built, out); err != nil {
		return "", fmt.Errorf("testplugins: %w", err)
	}
	return out, nil
}

func (c *cache) command(src source, out string) (*exec.Cmd, error) {
	if src.wat != "" {
		wat2wasm, err := exec.LookPath("wat2wasm")
		if err != nil {
			return nil, fmt.Errorf("testplugins: wat2wasm not found: install wabt (make deps-plugins)")
		}
		return exec.Command(wat2wasm, filepath.Join(c.src, src.wat), "-o", out), nil
	}
	if src.c != "" {
		clang, err := exec.LookPath("clang")
		if err != nil {
			return nil, fmt.Errorf("testplugins: clang not found: install clang, lld, wasi-libc (make deps-plugins)")
		}
		// The flags of `make plugins-small`.
		return exec.Command(clang, "--target=wasm32-wasi", "-O2", "-Wall", "-Werror", "-mexec-model=reactor",
			"-Wl,--strip-all", "-o", out, filepath.Join(c.src, src.c)), nil
	}
	// The flags of `make plugins`. The test binary's environment may ask for
	// cgo (go test -race) or carry GOFLAGS meant for the host.
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-buildmode=c-shared", "-o", out, src.pkg)
	cmd.Dir = filepath.Join(c.src, src.module)
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0", "GOFLAGS=", "GOWORK=off")
	return cmd, nil
}

// lock takes an exclusive flock on path; it holds across processes.
func lock(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("testplugins: %w", err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("testplugins: locking %s: %w", path, err)
	}
	// Closing the file releases the lock.
	return func() { f.Close() }, nil
}
