package config

import (
	"errors"
	"strconv"
	"strings"
)

// Sentinel errors: every *Error returned by this package matches exactly one of
// them with errors.Is.
var (
	// ErrSyntax: the document is not valid TOML.
	ErrSyntax = errors.New("config: TOML syntax error")
	// ErrUnknownKey: a key this version does not know (often a typo).
	ErrUnknownKey = errors.New("config: unknown key")
	// ErrInvalid: a value has the wrong type, is out of range, or is required but missing.
	ErrInvalid = errors.New("config: invalid value")
	// ErrDuplicate: two plugins share a name or an index.
	ErrDuplicate = errors.New("config: duplicate plugin")
	// ErrNotFound: a configured file or directory does not exist or cannot be read.
	ErrNotFound = errors.New("config: not found")
	// ErrNotWasm: a plugin file is not a WebAssembly 1.0 binary module.
	ErrNotWasm = errors.New("config: not a Wasm module")
	// ErrChecksum: a plugin file does not have its pinned sha256.
	ErrChecksum = errors.New("config: sha256 mismatch")
	// ErrPermission: a file or directory could be changed by someone other than
	// root or the current user.
	ErrPermission = errors.New("config: unsafe file permissions")
	// ErrNoPlugins: the configuration and plugin_dir define no plugin at all.
	ErrNoPlugins = errors.New("config: no plugins")
)

// Error is one problem in a configuration. Its message is one line:
// "FILE[:LINE]: [KEY: ]what is wrong (want ...)".
type Error struct {
	File string // config file path, "embedded", or the plugin file at fault
	Line int    // 1-based line in File; 0 when unknown
	Key  string // key path such as "plugin[1].memory_limit"; "" for the file itself
	Msg  string
	Kind error // one of the sentinels above
	Err  error // underlying cause (e.g. from os), nil if none
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":" + strconv.Itoa(e.Line))
	}
	for _, s := range []string{e.Key, e.Msg} {
		if s == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteString(": ")
		}
		b.WriteString(oneLine.Replace(s))
	}
	return b.String()
}

// oneLine escapes line breaks: a message may quote the document (the TOML
// parser's do), and a problem must stay one line.
var oneLine = strings.NewReplacer("\n", `\n`, "\r", `\r`)

// Unwrap lets errors.Is match both the sentinel and the cause.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

// report collects every problem of a step so they are reported together.
type report struct{ errs []error }

// add keeps err unless it is nil.
func (r *report) add(err error) {
	if err != nil {
		r.errs = append(r.errs, err)
	}
}

// err is nil when nothing was reported; else one line per problem.
func (r *report) err() error { return errors.Join(r.errs...) }
