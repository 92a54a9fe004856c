// Package inject parses the injector plugin's config: the environment
// variables and annotations to add to every container that is created.
//
// The format:
//
//	# comment
//	env KEY=VALUE
//	annotation KEY=VALUE
//
// One directive per line; blank lines and lines starting with '#' are
// ignored; leading and trailing blanks (space, tab, CR, VT, FF) of a line are
// dropped. The directive and KEY=VALUE are separated by blanks. VALUE is the
// rest of the line after the first '=', taken verbatim (it may be empty and
// may contain '=', '#' and spaces). An env KEY is a portable shell name
// ([A-Za-z_][A-Za-z0-9_]*); an annotation KEY is made of [A-Za-z0-9._/-] and
// starts with a letter or digit (so it cannot be NRI's "-KEY" removal
// marker). A KEY may be set once per directive kind.
//
// Errors name the line and quote it: they reach the operator only through the
// runtime's log. testdata/configs.json pins them, for this parser and for the
// compiled injector plugin alike.
package inject

import (
	"errors"
	"fmt"
	"strings"

	"github.com/containerd/nri/pkg/api"
)

// ErrSyntax is wrapped by every error of Parse.
var ErrSyntax = errors.New("injector config")

// blanks are the bytes trimmed from a line: ASCII only, so that a config
// means the same whatever its encoding.
const blanks = " \t\r\v\f"

// KeyValue is one directive, in config order.
type KeyValue struct {
	Key, Value string
}

// Config is a parsed injector config.
type Config struct {
	Env         []KeyValue
	Annotations []KeyValue
}

type kind struct {
	directive string
	valid     func(string) bool
	want      string
}

var (
	envKind = kind{"env", isEnvName,
		"letters, digits and '_', not starting with a digit"}
	annotationKind = kind{"annotation", isAnnotationKey,
		"letters, digits, '-', '_', '.' and '/', starting with a letter or digit"}
)

// Parse parses config. An error names the line number and its text.
func Parse(config string) (*Config, error) {
	c := &Config{}
	firstLine := map[string]int{} // kind + "\x00" + key -> line number
	for i, raw := range strings.Split(config, "\n") {
		n, line := i+1, strings.Trim(raw, blanks)
		if line == "" || line[0] == '#' {
			continue
		}
		directive, rest := line, ""
		if j := strings.IndexAny(line, blanks); j >= 0 {
			directive, rest = line[:j], strings.TrimLeft(line[j:], blanks)
		}
		var k kind
		var dst *[]KeyValue
		switch directive {
		case envKind.directive:
			k, dst = envKind, &c.Env
		case annotationKind.directive:
			k, dst = annotationKind, &c.Annotations
		default:
			return nil, fmt.Errorf("%w: line %d: unknown directive \"%s\" in \"%s\" (want env or annotation)",
				ErrSyntax, n, directive, line)
		}
		key, value, ok := strings.Cut(rest, "=")
		if !ok {
			return nil, fmt.Errorf("%w: line %d: missing '=' in \"%s\" (want %s KEY=VALUE)",
				ErrSyntax, n, line, k.directive)
		}
		if !k.valid(key) {
			return nil, fmt.Errorf("%w: line %d: invalid %s key \"%s\" in \"%s\" (want %s)",
				ErrSyntax, n, k.directive, key, line, k.want)
		}
		id := k.directive + "\x00" + key
		if first, dup := firstLine[id]; dup {
			return nil, fmt.Errorf("%w: line %d: duplicate %s key \"%s\" in \"%s\" (first set on line %d)",
				ErrSyntax, n, k.directive, key, line, first)
		}
		firstLine[id] = n
		*dst = append(*dst, KeyValue{key, value})
	}
	return c, nil
}

// Adjustment returns a new container adjustment that applies c.
func (c *Config) Adjustment() *api.ContainerAdjustment {
	a := &api.ContainerAdjustment{}
	for _, kv := range c.Env {
		a.AddEnv(kv.Key, kv.Value)
	}
	for _, kv := range c.Annotations {
		a.AddAnnotation(kv.Key, kv.Value)
	}
	return a
}

func isEnvName(s string) bool {
	for i := 0; i < len(s); i++ {
		if b := s[i]; !(isLetter(b) || b == '_' || i > 0 && isDigit(b)) {
			return false
		}
	}
	return s != ""
}

func isAnnotationKey(s string) bool {
	for i := 0; i < len(s); i++ {
		if b := s[i]; !(isLetter(b) || isDigit(b) || i > 0 && strings.IndexByte("-_./", b) >= 0) {
			return false
		}
	}
	return s != ""
}

func isLetter(b byte) bool { return 'a' <= b|0x20 && b|0x20 <= 'z' }
func isDigit(b byte) bool  { return '0' <= b && b <= '9' }
