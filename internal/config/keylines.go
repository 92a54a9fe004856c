package config

import (
	"strconv"
	"strings"
)

// joinKey appends part to the key path prefix the way messages spell keys:
// "defaults.timeout", `plugin[1]."odd key"`.
func joinKey(prefix, part string) string {
	if part == "" || strings.ContainsFunc(part, func(r rune) bool { return r > 0x7f || !isBare(byte(r)) }) {
		part = strconv.Quote(part)
	}
	if prefix == "" {
		return part
	}
	return prefix + "." + part
}

// parentKey drops the last part or array index of a key path, "" at the top.
// A quoted part holding '.' or '[' may cut short; that only makes a line
// number less precise.
func parentKey(key string) string {
	if strings.HasSuffix(key, "]") {
		if i := strings.LastIndexByte(key, '['); i > 0 {
			return key[:i]
		}
	}
	if i := strings.LastIndexByte(key, '.'); i > 0 {
		return key[:i]
	}
	return ""
}

// keyLines maps the key paths of a TOML document that the parser accepted,
// spelled as joinKey does ("engine", "defaults.timeout", "plugin[2]",
// "plugin[2].name"), to the 1-based line that defines them. BurntSushi/toml
// keeps its key positions private, hence this small scanner: it only has to
// find keys and table headers, skipping values, strings and comments.
func keyLines(data []byte) map[string]int {
	s := scanner{b: string(data), line: 1}
	lines := map[string]int{}
	set := func(key string, line int) {
		if _, ok := lines[key]; !ok {
			lines[key] = line
		}
	}
	arrays := map[string]int{} // [[array]] path -> entries so far
	table := ""
	for s.skipBlank() {
		line := s.line
		switch {
		case s.at("[["):
			s.i += 2
			table = tablePath(s.key(), arrays)
			set(table, line)
			arrays[table]++
			table += "[" + strconv.Itoa(arrays[table]) + "]"
			set(table, line)
			s.skipLine()
		case s.at("["):
			s.i++
			table = tablePath(s.key(), arrays)
			set(table, line)
			s.skipLine()
		default:
			key := table
			for _, part := range s.key() {
				key = joinKey(key, part)
				set(key, line)
			}
			if s.at("=") {
				s.i++
				s.skipValue()
			} else {
				s.skipLine() // not a key: cannot happen in valid TOML
			}
		}
	}
	return lines
}

// tablePath is the key path of a table header: parts naming an array of
// tables refer to its last entry so far.
func tablePath(parts []string, arrays map[string]int) string {
	path := ""
	for i, part := range parts {
		path = joinKey(path, part)
		if n := arrays[path]; n > 0 && i < len(parts)-1 {
			path += "[" + strconv.Itoa(n) + "]"
		}
	}
	return path
}

type scanner struct {
	b    string
	i    int
	line int
}

func (s *scanner) at(prefix string) bool { return strings.HasPrefix(s.b[s.i:], prefix) }

// skipBlank skips blanks, newlines and comments; false at the end.
func (s *scanner) skipBlank() bool {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\r':
			s.i++
		case '\n':
			s.i++
			s.line++
		case '#':
			s.skipLine()
		default:
			return true
		}
	}
	return false
}

// skipLine moves to the next newline, not past it.
func (s *scanner) skipLine() {
	for s.i < len(s.b) && s.b[s.i] != '\n' {
		s.i++
	}
}

func (s *scanner) skipSpace() {
	for s.i < len(s.b) && (s.b[s.i] == ' ' || s.b[s.i] == '\t') {
		s.i++
	}
}

// key reads a dotted key and returns its parts.
func (s *scanner) key() []string {
	var parts []string
	for {
		s.skipSpace()
		if s.i >= len(s.b) {
			return parts
		}
		switch c := s.b[s.i]; {
		case c == '"':
			start := s.i
			s.skipString('"', true)
			raw := s.b[start:s.i]
			part, err := strconv.Unquote(raw)
			if err != nil { // a TOML escape Go does not know: keep it verbatim
				part = strings.Trim(raw, `"`)
			}
			parts = append(parts, part)
		case c == '\'':
			start := s.i
			s.skipString('\'', false)
			parts = append(parts, strings.Trim(s.b[start:s.i], "'"))
		case isBare(c):
			start := s.i
			for s.i < len(s.b) && isBare(s.b[s.i]) {
				s.i++
			}
			parts = append(parts, s.b[start:s.i])
		default:
			return parts
		}
		s.skipSpace()
		if !s.at(".") {
			return parts
		}
		s.i++
	}
}

// skipString skips a one-line string starting at the quote q.
func (s *scanner) skipString(q byte, escapes bool) {
	for s.i++; s.i < len(s.b) && s.b[s.i] != '\n'; s.i++ {
		switch s.b[s.i] {
		case '\\':
			if escapes {
				s.i++
			}
		case q:
			s.i++
			return
		}
	}
}

// skipMultiline skips a multi-line string quoted with q; s.i is past the
// opening three quotes.
func (s *scanner) skipMultiline(q byte) {
	for s.i < len(s.b) {
		switch c := s.b[s.i]; {
		case c == '\n':
			s.line++
		case c == '\\' && q == '"':
			s.i++
			if s.i < len(s.b) && s.b[s.i] == '\n' {
				s.line++
			}
		case c == q && s.at(triple(q)):
			s.i += 3
			// Up to two more quotes end the content, not the string's start.
			for n := 0; n < 2 && s.i < len(s.b) && s.b[s.i] == q; n++ {
				s.i++
			}
			return
		}
		s.i++
	}
}

// skipValue skips the value after '=', up to the newline that ends it.
func (s *scanner) skipValue() {
	depth := 0 // of arrays and inline tables, which may span lines
	for s.i < len(s.b) {
		switch c := s.b[s.i]; c {
		case '\n':
			if depth <= 0 {
				return
			}
			s.line++
			s.i++
		case '#':
			s.skipLine()
		case '"', '\'':
			if s.at(triple(c)) {
				s.i += 3
				s.skipMultiline(c)
			} else {
				s.skipString(c, c == '"')
			}
		case '[', '{':
			depth++
			s.i++
		case ']', '}':
			depth--
			s.i++
		default:
			s.i++
		}
	}
}

// triple is the delimiter of a multi-line string quoted with q.
func triple(q byte) string {
	if q == '"' {
		return `"""`
	}
	return "'''"
}
