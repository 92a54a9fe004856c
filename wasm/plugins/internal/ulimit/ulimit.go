// Package ulimit reads the rlimits a pod asks for in its annotations, in the
// format of containerd/nri's native plugins/ulimit-adjuster.
//
// The annotation is set on the pod, for one container:
//
//	ulimits.noderesource.dev/container.NAME: |
//	  - type: RLIMIT_NOFILE
//	    soft: 1024
//	    hard: 4096
//	  - type: nproc
//	    hard: 9000
//
// ulimits.nri.containerd.io/container.NAME (upstream's deprecated key) is
// accepted too; the noderesource.dev key wins when both are present. Beyond
// upstream, pod-wide keys follow NRI's GetEffectiveAnnotation convention
// (pkg/plugin): KEY/pod or bare KEY apply to every container of the pod that
// has no container key.
//
// The value is the YAML upstream accepts: a block sequence of mappings with
// fields type, soft and hard (missing numbers are 0), or "[]". type is a
// setrlimit(2) name in any case, with or without the RLIMIT_ prefix; soft and
// hard are decimal integers and hard must not be below soft. This package
// parses that subset itself instead of linking a YAML library into the guest.
// Unlike upstream, unknown fields are an error rather than ignored (they are
// most likely typos), and so are duplicate fields.
package ulimit

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/containerd/nri/pkg/api"
)

// ErrInvalid is wrapped by every error about an annotation's value.
var ErrInvalid = errors.New("ulimit: invalid annotation")

// Domains of the annotation keys, in order of precedence.
var domains = []string{"ulimits.noderesource.dev", "ulimits.nri.containerd.io"}

const prefix = "RLIMIT_"

var valid = map[string]bool{
	"AS": true, "CORE": true, "CPU": true, "DATA": true, "FSIZE": true,
	"LOCKS": true, "MEMLOCK": true, "MSGQUEUE": true, "NICE": true,
	"NOFILE": true, "NPROC": true, "RSS": true, "RTPRIO": true,
	"RTTIME": true, "SIGPENDING": true, "STACK": true,
}

// Lookup returns the annotation that applies to container: a container key
// of either domain first, then a pod-wide one.
func Lookup(annotations map[string]string, container string) (key, value string, ok bool) {
	var keys []string
	for _, d := range domains {
		keys = append(keys, d+"/container."+container)
	}
	for _, d := range domains {
		keys = append(keys, d+"/pod", d)
	}
	for _, k := range keys {
		if v, ok := annotations[k]; ok {
			return k, v, true
		}
	}
	return "", "", false
}

// Adjust returns the rlimits that pod's annotations ask for container, or
// nil when there is no ulimit annotation for it.
func Adjust(pod *api.PodSandbox, container string) (*api.ContainerAdjustment, error) {
	key, value, ok := Lookup(pod.GetAnnotations(), container)
	if !ok {
		return nil, nil
	}
	limits, err := Parse(value)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %w", ErrInvalid, key, err)
	}
	a := &api.ContainerAdjustment{}
	for _, l := range limits {
		a.AddRlimit(l.Type, l.Hard, l.Soft)
	}
	return a, nil
}

// Rlimit is one parsed entry; Type is normalized to RLIMIT_NAME.
type Rlimit struct {
	Type       string
	Soft, Hard uint64
}

// entry is an Rlimit being parsed.
type entry struct {
	Rlimit
	line   int             // of its "-"
	indent int             // column of its fields, -1 until known
	seen   map[string]bool // fields set so far
}

// Parse parses an annotation value. Errors name the line (counted from 1)
// or the entry they are about.
func Parse(value string) ([]Rlimit, error) {
	if strings.TrimSpace(value) == "[]" {
		return nil, nil
	}
	var entries []*entry
	dash := -1 // column of the list's "-"
	for i, raw := range strings.Split(value, "\n") {
		n := i + 1
		line := stripComment(raw)
		text := strings.TrimLeft(line, " ")
		if text == "" {
			continue
		}
		if text[0] == '\t' {
			return nil, fmt.Errorf("line %d: tab in indentation", n)
		}
		col := len(line) - len(text)
		if text == "-" || strings.HasPrefix(text, "- ") {
			if dash < 0 {
				dash = col
			}
			if col != dash {
				return nil, fmt.Errorf("line %d: %q: nested or misaligned list entry (want one list of type, soft, hard fields)", n, text)
			}
			field := strings.TrimLeft(text[1:], " ")
			e := &entry{line: n, indent: -1, seen: map[string]bool{}}
			entries = append(entries, e)
			if field != "" {
				e.indent = col + len(text) - len(field)
				if err := e.set(n, field); err != nil {
					return nil, err
				}
			}
			continue
		}
		if len(entries) == 0 {
			return nil, fmt.Errorf("line %d: %q is not a list entry (want \"- type: NAME\")", n, text)
		}
		e := entries[len(entries)-1]
		if e.indent < 0 && col > dash {
			e.indent = col
		}
		if col != e.indent {
			return nil, fmt.Errorf("line %d: %q is not aligned with the fields of its entry", n, text)
		}
		if err := e.set(n, text); err != nil {
			return nil, err
		}
	}
	limits := make([]Rlimit, 0, len(entries))
	for i, e := range entries {
		if !e.seen["type"] {
			return nil, fmt.Errorf("entry %d (line %d): missing type", i+1, e.line)
		}
		if e.Hard < e.Soft {
			return nil, fmt.Errorf("entry %d (line %d): %s: hard limit %d is below soft limit %d",
				i+1, e.line, e.Type, e.Hard, e.Soft)
		}
		limits = append(limits, e.Rlimit)
	}
	return limits, nil
}

// set parses "name: value", the text of line n.
func (e *entry) set(n int, text string) error {
	name, value, ok := strings.Cut(text, ":")
	if !ok || value != "" && value[0] != ' ' {
		return fmt.Errorf("line %d: %q is not a \"field: value\" pair", n, text)
	}
	// Field names match case-insensitively, like upstream's JSON decoding.
	name = strings.ToLower(strings.TrimSpace(name))
	value = unquote(strings.TrimSpace(value))
	if e.seen[name] {
		return fmt.Errorf("line %d: duplicate field %q", n, name)
	}
	if value == "" {
		return fmt.Errorf("line %d: field %q has no value", n, name)
	}
	e.seen[name] = true
	switch name {
	case "type":
		t := strings.TrimPrefix(strings.ToUpper(value), prefix)
		if !valid[t] {
			return fmt.Errorf("line %d: unknown rlimit type %q (want a setrlimit(2) name such as RLIMIT_NOFILE or nofile)", n, value)
		}
		e.Type = prefix + t
	case "soft", "hard":
		v, err := strconv.ParseUint(value, 10, 64)
		if err != nil {
			return fmt.Errorf("line %d: %s %q is not a decimal integer in [0, 2^64)", n, name, value)
		}
		if name == "soft" {
			e.Soft = v
		} else {
			e.Hard = v
		}
	default:
		return fmt.Errorf("line %d: unknown field %q (want type, soft or hard)", n, name)
	}
	return nil
}

// stripComment drops a YAML comment and trailing blanks from line. The
// scalars of this format never contain '#'.
func stripComment(line string) string {
	for i := 0; i < len(line); i++ {
		if line[i] == '#' && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t') {
			line = line[:i]
			break
		}
	}
	return strings.TrimRight(line, " \t\r")
}

// unquote removes one pair of matching YAML quotes around s.
func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1]
	}
	return s
}
