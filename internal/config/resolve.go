package config

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// wasmHeader is the magic and version of a WebAssembly 1.0 binary module.
var wasmHeader = []byte("\x00asm\x01\x00\x00\x00")

const namePattern = `NN-name.wasm: two digits, '-', then letters, digits and '-', '_', '.', '+'`

// Resolve makes c.Plugins the final list of plugins, sorted by Index then
// Name: every NN-name.wasm in PluginDir (with the config text of NN-name.conf
// beside it, if any), then every [[plugin]] entry, which adds a plugin or,
// when its name is one the scan found, overrides what it sets. Fields left
// zero come from Defaults. It then checks each plugin file: a regular file
// holding a Wasm module, with the pinned sha256 if any, that only root or the
// current user can change (unless AllowUnsafePermissions). Call it once.
func (c *Config) Resolve() error {
	var r report
	found, dirErr := c.scan(&r)

	var plugins []Plugin
	seen := map[string]*Plugin{} // entry name -> entry
	for i := range c.Plugins {
		e := &c.Plugins[i]
		file, line := originLoc(e.Origin)
		if prev, ok := seen[e.Name]; ok {
			r.add(&Error{File: file, Line: line, Key: "name", Kind: ErrDuplicate,
				Msg: fmt.Sprintf("plugin %q is already defined at %s (want one [[plugin]] per name)", e.Name, prev.Origin)})
			continue
		}
		seen[e.Name] = e
		p := c.Defaults
		if f, ok := found[e.Name]; ok {
			p.overlay(f)
			delete(found, e.Name)
		} else {
			missing := false
			for _, k := range []struct{ key, val, want string }{
				{"index", e.Index, `two digits, e.g. index = "10"`},
				{"path", e.Path, "the .wasm file"},
			} {
				if k.val == "" {
					missing = true
					r.add(&Error{File: file, Line: line, Key: k.key, Kind: ErrInvalid,
						Msg: fmt.Sprintf("plugin %q has none and plugin_dir has no NN-%s.wasm (want %s)", e.Name, e.Name, k.want)})
				}
			}
			if missing {
				continue
			}
		}
		p.overlay(e)
		plugins = append(plugins, p)
	}
	for _, f := range found {
		p := c.Defaults
		p.overlay(f)
		plugins = append(plugins, p)
	}
	slices.SortFunc(plugins, func(a, b Plugin) int {
		return cmp.Or(cmp.Compare(a.Index, b.Index), cmp.Compare(a.Name, b.Name))
	})

	for i := range plugins {
		p := &plugins[i]
		if abs, err := filepath.Abs(p.Path); err == nil {
			p.Path = abs
		}
		if i > 0 && plugins[i-1].Index == p.Index {
			file, line := originLoc(p.Origin)
			r.add(&Error{File: file, Line: line, Key: "index", Kind: ErrDuplicate,
				Msg: fmt.Sprintf("index %q of plugin %q is also that of plugin %q from %s (want one plugin per index: NRI orders plugins by it)",
					p.Index, p.Name, plugins[i-1].Name, plugins[i-1].Origin)})
		}
		r.add(checkPlugin(p, c.AllowUnsafePermissions))
	}

	if len(plugins) == 0 && len(r.errs) == 0 {
		dir := cmp.Or(c.PluginDir, "not set")
		if dirErr != nil {
			dir += ": " + osMsg(dirErr)
		}
		r.add(&Error{File: c.File, Key: "plugin_dir", Kind: ErrNoPlugins, Err: dirErr,
			Msg: fmt.Sprintf("no plugins: put NN-name.wasm files in plugin_dir (%s) or add [[plugin]] entries with a path", dir)})
	}
	if err := r.err(); err != nil {
		return err
	}
	c.Plugins = plugins
	return nil
}

// overlay sets the fields of p that q sets.
func (p *Plugin) overlay(q *Plugin) {
	p.Name = cmp.Or(q.Name, p.Name)
	p.Index = cmp.Or(q.Index, p.Index)
	p.Path = cmp.Or(q.Path, p.Path)
	p.SHA256 = cmp.Or(q.SHA256, p.SHA256)
	p.MemoryLimit = cmp.Or(q.MemoryLimit, p.MemoryLimit)
	p.Timeout = cmp.Or(q.Timeout, p.Timeout)
	p.OnError = cmp.Or(q.OnError, p.OnError)
	p.Config = cmp.Or(q.Config, p.Config)
	p.Origin = cmp.Or(q.Origin, p.Origin)
}

// scan returns the plugins in PluginDir by name. A missing directory is
// returned as dirErr, not reported: it matters only if no plugin results.
func (c *Config) scan(r *report) (found map[string]*Plugin, dirErr error) {
	found = map[string]*Plugin{}
	if c.PluginDir == "" {
		return found, nil
	}
	entries, err := os.ReadDir(c.PluginDir)
	if errors.Is(err, fs.ErrNotExist) {
		return found, err
	}
	if err != nil {
		r.add(&Error{File: c.PluginDir, Kind: ErrNotFound, Err: err, Msg: "cannot read plugin_dir: " + osMsg(err)})
		return found, nil
	}
	for _, de := range entries {
		base, ok := strings.CutSuffix(de.Name(), ".wasm")
		if !ok {
			continue
		}
		path := filepath.Join(c.PluginDir, de.Name())
		index, name, ok := splitPluginFile(base)
		if !ok {
			r.add(&Error{File: path, Kind: ErrInvalid, Msg: "badly named plugin file (want " + namePattern + ")"})
			continue
		}
		if prev, ok := found[name]; ok {
			r.add(&Error{File: path, Kind: ErrDuplicate,
				Msg: fmt.Sprintf("plugin %q is also %s (want one NN-%s.wasm)", name, prev.Path, name)})
			continue
		}
		p := &Plugin{Name: name, Index: index, Path: path, Origin: path}
		conf, err := readConf(filepath.Join(c.PluginDir, base+".conf"), c.AllowUnsafePermissions)
		r.add(err)
		p.Config = conf
		found[name] = p
	}
	return found, nil
}

// splitPluginFile splits "NN-name" into its index and name.
func splitPluginFile(base string) (index, name string, ok bool) {
	if len(base) < 4 || base[2] != '-' || !validIndex(base[:2]) || !validName(base[3:]) {
		return "", "", false
	}
	return base[:2], base[3:], true
}

// readConf returns the text of the .conf file at path, "" if there is none.
func readConf(path string, allowUnsafe bool) (string, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", &Error{File: path, Kind: ErrNotFound, Err: err, Msg: "cannot read plugin config: " + osMsg(err)}
	}
	defer f.Close()
	if !allowUnsafe {
		// The config can make a plugin inject devices or mounts: it deserves
		// the same care as the module.
		fi, err := f.Stat()
		if err != nil {
			return "", &Error{File: path, Kind: ErrNotFound, Err: err, Msg: "cannot read plugin config: " + osMsg(err)}
		}
		if err := checkSafe(path, fi, "plugin config"); err != nil {
			return "", err
		}
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return "", &Error{File: path, Kind: ErrNotFound, Err: err, Msg: "cannot read plugin config: " + osMsg(err)}
	}
	return string(data), nil
}

// checkPlugin checks the file of p, reading it once: the header is hashed
// with the rest, so a 10 MB module is not read twice.
func checkPlugin(p *Plugin, allowUnsafe bool) error {
	who := fmt.Sprintf("plugin %q", p.Name)
	if p.Origin != "" && p.Origin != p.Path {
		who += " (" + p.Origin + ")"
	}
	fail := func(kind, cause error, format string, args ...any) error {
		return &Error{File: p.Path, Kind: kind, Err: cause, Msg: who + ": " + fmt.Sprintf(format, args...)}
	}
	f, err := os.Open(p.Path)
	if err != nil {
		return fail(ErrNotFound, err, "cannot open: %s (want a .wasm file)", osMsg(err))
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fail(ErrNotFound, err, "cannot stat: %s", osMsg(err))
	}
	if !fi.Mode().IsRegular() {
		return fail(ErrNotFound, nil, "not a regular file (mode %s; want a .wasm file)", fi.Mode())
	}
	if !allowUnsafe {
		if err := checkSafe(p.Path, fi, who); err != nil {
			return err
		}
		if err := checkDir(p.Path, who); err != nil {
			return err
		}
	}

	head := make([]byte, len(wasmHeader))
	n, err := io.ReadFull(f, head)
	switch {
	case err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF):
		return fail(ErrNotFound, err, "cannot read: %s", osMsg(err))
	case n < len(head):
		return fail(ErrNotWasm, nil, `not a Wasm module: truncated: %d bytes (want the 8-byte header "\0asm" version 1)`, n)
	case !bytes.Equal(head, wasmHeader):
		return fail(ErrNotWasm, nil, `not a Wasm module: %s (want "\0asm" version 1, a WebAssembly binary module)`, badHeader(head))
	}
	if p.SHA256 == "" {
		return nil
	}
	h := sha256.New()
	h.Write(head)
	if _, err := io.Copy(h, f); err != nil {
		return fail(ErrNotFound, err, "cannot read: %s", osMsg(err))
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != p.SHA256 {
		return fail(ErrChecksum, nil, "sha256 mismatch (want %s, got %s)", p.SHA256, got)
	}
	return nil
}

// badHeader describes the first bytes of a file that is not a Wasm module.
func badHeader(head []byte) string {
	if bytes.HasPrefix(head, wasmHeader[:4]) {
		what := "a pre-release or future module?"
		if bytes.Equal(head[4:], []byte{0x0d, 0x00, 0x01, 0x00}) {
			what = "a Wasm component, not a core module"
		}
		return fmt.Sprintf("version %x (%s)", head[4:], what)
	}
	s := fmt.Sprintf("starts with %x", head[:4])
	for _, k := range []struct{ magic, what string }{
		{"\x7fELF", "an ELF executable?"},
		{"#!", "a script?"},
		{"\x1f\x8b", "a gzip file?"},
		{"PK\x03\x04", "a zip file?"},
		{"(mod", "the Wasm text format? compile it with wat2wasm"},
	} {
		if bytes.HasPrefix(head, []byte(k.magic)) {
			return s + " (" + k.what + ")"
		}
	}
	return s
}

// checkSafe refuses a file that someone other than root or the current user
// can change: they could make the daemon run code or config of their choice.
func checkSafe(path string, fi fs.FileInfo, what string) error {
	var why []string
	mode := fi.Mode().Perm()
	if mode&0o020 != 0 {
		why = append(why, "group-writable")
	}
	if mode&0o002 != 0 {
		why = append(why, "world-writable")
	}
	owner := ""
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		owner = " owner uid " + strconv.FormatUint(uint64(st.Uid), 10)
		if st.Uid != 0 && int(st.Uid) != os.Getuid() {
			why = append(why, "owned by another user")
		}
	}
	if len(why) == 0 {
		return nil
	}
	return &Error{File: path, Kind: ErrPermission,
		Msg: fmt.Sprintf("%s: mode %04o%s: %s (want not group- or world-writable and owned by root or uid %d, or allow_unsafe_permissions = true)",
			what, mode, owner, strings.Join(why, ", "), os.Getuid())}
}

// checkDir applies checkSafe to the directory of path: whoever can write it
// can replace the file. Symbolic links are followed to the real directory.
func checkDir(path, what string) error {
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	if err != nil {
		return &Error{File: dir, Kind: ErrNotFound, Err: err, Msg: "cannot stat directory: " + osMsg(err)}
	}
	return checkSafe(dir, fi, "directory of "+what)
}

// originLoc splits an Origin "FILE:LINE" for an *Error; a plain path has no line.
func originLoc(origin string) (file string, line int) {
	if i := strings.LastIndexByte(origin, ':'); i >= 0 {
		if n, err := strconv.Atoi(origin[i+1:]); err == nil && n > 0 {
			return origin[:i], n
		}
	}
	return origin, 0
}
