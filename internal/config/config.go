// Package config reads the nriwasm configuration: a TOML file, or the embedded
// default when there is none, that says where the NRI socket is, which Wasm
// plugins run under which NRI name and index, and within which limits.
//
// Parse checks the values of a document without touching the filesystem;
// Resolve then scans plugin_dir, merges the [[plugin]] entries into what it
// found and checks every plugin file. Each step reports all the problems it
// finds together, one line each, as *Error values that match one of the
// package's sentinel errors with errors.Is.
package config

import (
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/BurntSushi/toml"
)

// DefaultPath is read by Load when no path is given and it exists. It is a
// variable so that a distribution (or a test) can move it at link time:
// -ldflags "-X github.com/nriwasm/nriwasm/internal/config.DefaultPath=...".
var DefaultPath = "/etc/nriwasm/config.toml"

// embedded is Config.File when the configuration is the built-in document.
const embedded = "embedded"

// OnError is what happens to a container request when a plugin fails it.
type OnError string

const (
	// Fail fails the request with the plugin's error, like NRI does for an
	// external plugin that returns one.
	Fail OnError = "fail"
	// Ignore logs the error and lets the request go on without the plugin's changes.
	Ignore OnError = "ignore"
)

// Config is the whole configuration of the daemon.
type Config struct {
	File         string     // path read, or "embedded"
	Socket       string     // NRI socket to register on
	PluginDir    string     // scanned for NN-name.wasm; "" disables the scan
	CacheDir     string     // compilation cache; "" disables it
	Engine       string     // "auto", "compiler" or "interpreter"
	MemoryBudget uint64     // bytes of guest memory for the whole process; 0 = unlimited
	LogLevel     slog.Level // from "debug", "info", "warn" or "error"

	// AllowUnsafePermissions skips the checks that the config and plugin files
	// and their directories can be changed only by root or the current user.
	AllowUnsafePermissions bool

	Defaults Plugin   // what [defaults] sets; Name, Index, Path and SHA256 are empty
	Plugins  []Plugin // after Parse: the [[plugin]] entries; after Resolve: every plugin, by Index then Name
}

// Plugin is one Wasm plugin and its NRI registration.
type Plugin struct {
	Name        string        // NRI plugin name: [A-Za-z0-9-_.+]+
	Index       string        // NRI index: two digits, "00" to "99"
	Path        string        // the .wasm file; absolute after Resolve
	SHA256      string        // pinned digest in lowercase hex; "" = not pinned
	MemoryLimit uint64        // bytes of linear memory per instance (whole 64 KiB pages)
	Timeout     time.Duration // bound of one call into the plugin
	OnError     OnError
	Config      string // handed to the plugin's Configure
	Origin      string // "FILE:LINE" of its [[plugin]] header, or the .wasm found by the scan
}

// Built-in defaults; config.toml documents each of them.
func defaultConfig() *Config {
	return &Config{
		Socket:       "/var/run/nri/nri.sock",
		PluginDir:    "/var/lib/nriwasm/plugins",
		CacheDir:     "/var/cache/nriwasm",
		Engine:       "auto",
		MemoryBudget: 256 << 20,
		LogLevel:     slog.LevelInfo,
		Defaults: Plugin{
			MemoryLimit: 32 << 20,
			Timeout:     time.Second,
			OnError:     Fail,
		},
	}
}

// Parse decodes and validates the TOML document data read from file ("embedded"
// for the built-in one). Relative paths in it are taken relative to the
// directory of file; in the embedded document, to the working directory. It
// does not access the filesystem.
func Parse(file string, data []byte) (*Config, error) {
	c, err := parse(file, data)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// parse is Parse, but also returns what it could decode of a document with
// invalid values (nil only for a syntax error), for Load's permission check.
func parse(file string, data []byte) (*Config, error) {
	var doc map[string]any
	if _, err := toml.Decode(string(data), &doc); err != nil {
		e := &Error{File: file, Kind: ErrSyntax, Err: err, Msg: err.Error()}
		var pe toml.ParseError
		if errors.As(err, &pe) {
			e.Line, e.Msg = pe.Position.Line, "syntax error: "+pe.Message
		}
		return nil, e
	}
	c := defaultConfig()
	c.File = file
	d := decoder{file: file, lines: keyLines(data)}
	d.top(doc, c)
	return c, d.r.err()
}

// Load reads the configuration at path. With path "", it reads DefaultPath if
// that exists and else parses the embedded document. It refuses a file that
// someone other than root or the current user could change, unless the file
// sets allow_unsafe_permissions = true.
func Load(path string, embeddedDoc []byte) (*Config, error) {
	if path == "" {
		if _, err := os.Stat(DefaultPath); errors.Is(err, fs.ErrNotExist) {
			return Parse(embedded, embeddedDoc)
		}
		path = DefaultPath
	}
	// One open for the check and the read, so both see the same file.
	f, err := os.Open(path)
	if err != nil {
		return nil, &Error{File: path, Kind: ErrNotFound, Err: err, Msg: "cannot read config: " + osMsg(err)}
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, &Error{File: path, Kind: ErrNotFound, Err: err, Msg: "cannot read config: " + osMsg(err)}
	}
	if !fi.Mode().IsRegular() {
		return nil, &Error{File: path, Kind: ErrNotFound, Msg: "config is not a regular file (mode " + fi.Mode().String() + ")"}
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, &Error{File: path, Kind: ErrNotFound, Err: err, Msg: "cannot read config: " + osMsg(err)}
	}
	c, err := parse(path, data)
	if c == nil {
		return nil, err
	}
	var r report
	r.add(err)
	if !c.AllowUnsafePermissions {
		r.add(checkSafe(path, fi, "config"))
		r.add(checkDir(path, "config"))
	}
	if err := r.err(); err != nil {
		return nil, err
	}
	return c, nil
}

// osMsg is the reason of an os error without the path the caller already names.
func osMsg(err error) string {
	if pe, ok := errors.AsType[*fs.PathError](err); ok {
		return pe.Err.Error()
	}
	return err.Error()
}

// inDir makes a relative path from file relative to file's directory. The
// embedded document has no directory: its paths stay relative to the working
// directory.
func inDir(file, path string) string {
	if file == embedded || path == "" || filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(filepath.Dir(file), path)
}
