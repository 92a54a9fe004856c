package config

import (
	"cmp"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The keys this version knows, in the order config.toml documents them.
var (
	settingKeys = []string{"socket", "plugin_dir", "cache_dir", "engine", "memory_budget", "log_level", "allow_unsafe_permissions"}
	topKeys     = append(slices.Clip(settingKeys), "defaults", "plugin")
	defaultKeys = []string{"memory_limit", "timeout", "on_error", "config"}
	pluginKeys  = []string{"name", "index", "path", "sha256", "memory_limit", "timeout", "on_error", "config"}
)

var logLevels = map[string]slog.Level{
	"debug": slog.LevelDebug,
	"info":  slog.LevelInfo,
	"warn":  slog.LevelWarn,
	"error": slog.LevelError,
}

const (
	pageSize  = 64 << 10 // one Wasm page: the smallest memory a module can have
	maxMemory = 4 << 30  // 65536 pages: all that 32-bit Wasm can address
)

// decoder checks a decoded document key by key, so that it can report every
// problem at its line rather than stop at the first type mismatch.
type decoder struct {
	file  string
	lines map[string]int // from keyLines
	r     report
}

func (d *decoder) fail(key string, kind error, format string, args ...any) {
	d.r.add(&Error{File: d.file, Line: d.line(key), Key: key, Kind: kind, Msg: fmt.Sprintf(format, args...)})
}

// line is where key, or else its closest parent, is defined; 0 if unknown.
func (d *decoder) line(key string) int {
	for ; key != ""; key = parentKey(key) {
		if n, ok := d.lines[key]; ok {
			return n
		}
	}
	return 0
}

// sorted returns the keys of table m (at path prefix) in document order, so
// that problems are reported in that order.
func (d *decoder) sorted(prefix string, m map[string]any) []string {
	keys := slices.Collect(maps.Keys(m))
	slices.SortFunc(keys, func(a, b string) int {
		return cmp.Or(cmp.Compare(d.line(joinKey(prefix, a)), d.line(joinKey(prefix, b))), cmp.Compare(a, b))
	})
	return keys
}

func (d *decoder) top(doc map[string]any, c *Config) {
	for _, k := range d.sorted("", doc) {
		v := doc[k]
		switch k {
		case "socket":
			if s, ok := d.str(k, v, "the path of the NRI socket"); ok {
				if s == "" {
					d.fail(k, ErrInvalid, `empty (want the path of the NRI socket, e.g. "/var/run/nri/nri.sock")`)
				}
				c.Socket = inDir(d.file, s)
			}
		case "plugin_dir":
			if s, ok := d.str(k, v, `a directory, or "" to scan none`); ok {
				c.PluginDir = inDir(d.file, s)
			}
		case "cache_dir":
			if s, ok := d.str(k, v, `a directory, or "" for no cache`); ok {
				c.CacheDir = inDir(d.file, s)
			}
		case "engine":
			if s, ok := d.oneOf(k, v, "auto", "compiler", "interpreter"); ok {
				c.Engine = s
			}
		case "memory_budget":
			if n, ok := d.size(k, v); ok {
				c.MemoryBudget = n
			}
		case "log_level":
			if s, ok := d.oneOf(k, v, "debug", "info", "warn", "error"); ok {
				c.LogLevel = logLevels[s]
			}
		case "allow_unsafe_permissions":
			if b, ok := v.(bool); ok {
				c.AllowUnsafePermissions = b
			} else {
				d.fail(k, ErrInvalid, "got %s (want true or false, unquoted)", describe(v))
			}
		case "defaults":
			if m, ok := v.(map[string]any); ok {
				d.plugin(k, m, &c.Defaults, false)
			} else {
				d.fail(k, ErrInvalid, "got %s (want a table: [defaults])", describe(v))
			}
		case "plugin":
			d.plugins(v, c)
		default:
			d.unknown("", k, topKeys)
		}
	}
}

func (d *decoder) plugins(v any, c *Config) {
	var list []map[string]any
	switch v := v.(type) {
	case []map[string]any:
		list = v
	case []any: // plugin = [{...}, ...]
		for _, e := range v {
			m, ok := e.(map[string]any)
			if !ok {
				d.fail("plugin", ErrInvalid, "got an array of %s (want [[plugin]] tables)", describe(e))
				return
			}
			list = append(list, m)
		}
	case map[string]any:
		d.fail("plugin", ErrInvalid, "got a single table [plugin] (want [[plugin]], with two brackets, once per plugin)")
		return
	default:
		d.fail("plugin", ErrInvalid, "got %s (want [[plugin]] tables)", describe(v))
		return
	}
	for i, m := range list {
		key := "plugin[" + strconv.Itoa(i+1) + "]"
		p := Plugin{Origin: d.file}
		if n := d.line(key); n > 0 {
			p.Origin += ":" + strconv.Itoa(n)
		}
		if _, ok := m["name"]; !ok {
			d.fail(key+".name", ErrInvalid, `missing (want the NRI plugin name, e.g. name = "injector")`)
		}
		d.plugin(key, m, &p, true)
		c.Plugins = append(c.Plugins, p)
	}
}

// plugin decodes one [[plugin]] entry (entry true) or the [defaults] table
// into p. Keys an entry leaves out stay zero: Resolve fills them from
// Defaults or from what plugin_dir holds.
func (d *decoder) plugin(prefix string, m map[string]any, p *Plugin, entry bool) {
	for _, k := range d.sorted(prefix, m) {
		key, v := joinKey(prefix, k), m[k]
		if !entry && slices.Contains(pluginKeys, k) && !slices.Contains(defaultKeys, k) {
			d.fail(key, ErrUnknownKey, "not allowed in [defaults] (want it in each [[plugin]])")
			continue
		}
		switch k {
		case "name":
			if s, ok := d.str(key, v, "the NRI plugin name"); ok {
				if !validName(s) {
					d.fail(key, ErrInvalid, "invalid name %q (want letters, digits and '-', '_', '.', '+')", s)
				}
				p.Name = s
			}
		case "index":
			if n, ok := v.(int64); ok {
				d.fail(key, ErrInvalid, `got integer %d (want two digits as a string, e.g. "%02d")`, n, n)
			} else if s, ok := d.str(key, v, `two digits, e.g. "10"`); ok {
				if !validIndex(s) {
					d.fail(key, ErrInvalid, `invalid index %q (want two digits "00" to "99")`, s)
				}
				p.Index = s
			}
		case "path":
			if s, ok := d.str(key, v, "the path of a .wasm file"); ok {
				if s == "" {
					d.fail(key, ErrInvalid, "empty (want the path of a .wasm file)")
				}
				p.Path = inDir(d.file, s)
			}
		case "sha256":
			if s, ok := d.str(key, v, "64 hex digits"); ok {
				if !validSHA256(s) {
					d.fail(key, ErrInvalid, "invalid sha256 %q (want 64 hex digits, as sha256sum prints)", s)
				}
				p.SHA256 = strings.ToLower(s)
			}
		case "memory_limit":
			if n, ok := d.size(key, v); ok {
				switch {
				case n < pageSize:
					d.fail(key, ErrInvalid, "%d bytes is less than one Wasm page (want at least 64KiB)", n)
				case n > maxMemory:
					d.fail(key, ErrInvalid, "%d bytes is more than Wasm can address (want at most 4GiB)", n)
				}
				p.MemoryLimit = n
			}
		case "timeout":
			if t, ok := d.duration(key, v); ok {
				p.Timeout = t
			}
		case "on_error":
			if s, ok := d.oneOf(key, v, string(Fail), string(Ignore)); ok {
				p.OnError = OnError(s)
			}
		case "config":
			if s, ok := d.str(key, v, "the text handed to the plugin's Configure"); ok {
				p.Config = s
			}
		default:
			known := defaultKeys
			if entry {
				known = pluginKeys
			}
			d.unknown(prefix, k, known)
		}
	}
}

func (d *decoder) str(key string, v any, want string) (string, bool) {
	s, ok := v.(string)
	if !ok {
		d.fail(key, ErrInvalid, "got %s (want a string: %s)", describe(v), want)
	}
	return s, ok
}

func (d *decoder) oneOf(key string, v any, values ...string) (string, bool) {
	want := `"` + strings.Join(values, `", "`) + `"`
	s, ok := d.str(key, v, want)
	if ok && !slices.Contains(values, s) {
		d.fail(key, ErrInvalid, "invalid value %q (want one of %s)", s, want)
		return "", false
	}
	return s, ok
}

func (d *decoder) size(key string, v any) (uint64, bool) {
	if n, ok := v.(int64); ok {
		d.fail(key, ErrInvalid, `got integer %d without a unit (want a string such as "%dMiB")`, n, n)
		return 0, false
	}
	s, ok := d.str(key, v, `a size such as "32MiB"`)
	if !ok {
		return 0, false
	}
	n, msg := parseSize(s)
	if msg != "" {
		d.fail(key, ErrInvalid, "%s", msg)
		return 0, false
	}
	return n, true
}

func (d *decoder) duration(key string, v any) (time.Duration, bool) {
	if n, ok := v.(int64); ok {
		d.fail(key, ErrInvalid, `got integer %d without a unit (want a string such as "%ds" or "%dms")`, n, n, n)
		return 0, false
	}
	s, ok := d.str(key, v, `a duration such as "1s" or "500ms"`)
	if !ok {
		return 0, false
	}
	t, err := time.ParseDuration(s)
	switch {
	case err != nil:
		d.fail(key, ErrInvalid, `invalid duration %q (want a number and a unit: "ms", "s" or "m", e.g. "500ms")`, s)
	case t <= 0:
		d.fail(key, ErrInvalid, `duration %q is not positive (want more than 0, e.g. "1s")`, s)
	default:
		return t, true
	}
	return 0, false
}

// unknown reports key name in the table at prefix, with the likeliest fix.
func (d *decoder) unknown(prefix, name string, known []string) {
	key := joinKey(prefix, name)
	switch {
	case prefix != "" && slices.Contains(settingKeys, name):
		// Keys written after a [table] header belong to that table: a classic
		// TOML trap when appending to the end of the file.
		d.fail(key, ErrUnknownKey, "unknown key in %s (%s is a top-level key: move it above the first [table] header)", prefix, name)
	case prefix == "" && slices.Contains(defaultKeys, name):
		d.fail(key, ErrUnknownKey, "unknown top-level key (want it under [defaults] or a [[plugin]])")
	case prefix == "" && slices.Contains(pluginKeys, name):
		d.fail(key, ErrUnknownKey, "unknown top-level key (want it under a [[plugin]])")
	case prefix != "" && closest(name, known) == "" && closest(name, settingKeys) != "":
		d.fail(key, ErrUnknownKey, "unknown key in %s (did you mean %q? it is a top-level key: move it above the first [table] header)", prefix, closest(name, settingKeys))
	default:
		if s := closest(name, known); s != "" {
			switch s {
			case "plugin":
				s = "[[plugin]]"
			case "defaults":
				s = "[defaults]"
			default:
				s = strconv.Quote(s)
			}
			d.fail(key, ErrUnknownKey, "unknown key (did you mean %s?)", s)
		} else {
			d.fail(key, ErrUnknownKey, "unknown key (want one of %s)", strings.Join(known, ", "))
		}
	}
}

// closest is the known key a typo most likely meant, or "".
func closest(name string, known []string) string {
	best, bestDist := "", 0
	for _, k := range known {
		if len(name) >= 3 && strings.HasPrefix(k, name) {
			return k
		}
		dist := editDistance(strings.ToLower(strings.ReplaceAll(name, "-", "_")), k)
		if dist <= max(1, len(k)/3) && (best == "" || dist < bestDist) {
			best, bestDist = k, dist
		}
	}
	return best
}

// editDistance is the optimal string alignment distance between a and b,
// in bytes: Levenshtein's, with a swap of two neighbours as one edit.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// describe names the TOML type and value of v for messages.
func describe(v any) string {
	switch v := v.(type) {
	case string:
		return fmt.Sprintf("string %q", v)
	case int64:
		return fmt.Sprintf("integer %d", v)
	case float64:
		return fmt.Sprintf("float %v", v)
	case bool:
		return fmt.Sprintf("boolean %t", v)
	case time.Time:
		return "a date-time"
	case map[string]any:
		return "a table"
	case []any, []map[string]any:
		return "an array"
	}
	return fmt.Sprintf("%T", v)
}

// validName is NRI's rule for plugin names.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if !isBare(c) && c != '.' && c != '+' {
			return false
		}
	}
	return true
}

func validIndex(s string) bool {
	return len(s) == 2 && isDigit(s[0]) && isDigit(s[1])
}

func validSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range []byte(s) {
		if !isDigit(c) && (c|0x20 < 'a' || c|0x20 > 'f') {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// isBare reports a character of a TOML bare key: [A-Za-z0-9_-].
func isBare(c byte) bool {
	return isDigit(c) || ('a' <= c|0x20 && c|0x20 <= 'z') || c == '_' || c == '-'
}
