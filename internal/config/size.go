package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// sizeUnits are the units parseSize takes: binary only, so that "16MiB" can
// mean nothing but 16 << 20.
var sizeUnits = []struct {
	name  string
	shift uint
}{{"", 0}, {"B", 0}, {"KiB", 10}, {"MiB", 20}, {"GiB", 30}, {"TiB", 40}}

// parseSize parses a byte size: a whole number and an optional binary unit,
// "4096", "4096B", "512KiB", "16MiB", "1GiB", "1TiB". Decimal or short units
// ("16MB", "16M") are refused with the binary spelling to use instead. The
// problem comes back as a message, "" if none.
func parseSize(s string) (uint64, string) {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	num, unit := s[:i], strings.TrimLeft(s[i:], " ")
	switch {
	case s == "":
		return 0, `empty size (want a number and a unit, e.g. "16MiB")`
	case strings.HasPrefix(s, "-"):
		return 0, fmt.Sprintf(`invalid size %q: negative (want 0 or more, e.g. "16MiB")`, s)
	case num == "":
		return 0, fmt.Sprintf(`invalid size %q (want a whole number and a unit, e.g. "16MiB")`, s)
	case strings.HasPrefix(unit, ".") || strings.HasPrefix(unit, ","):
		return 0, fmt.Sprintf(`invalid size %q: not a whole number (want whole units: use a smaller unit, e.g. KiB instead of MiB)`, s)
	}
	for _, u := range sizeUnits {
		if unit != u.name {
			continue
		}
		n, err := strconv.ParseUint(num, 10, 64)
		if err != nil || n > math.MaxUint64>>u.shift {
			return 0, fmt.Sprintf(`invalid size %q: too large (want at most 16EiB, less one byte)`, s)
		}
		return n << u.shift, ""
	}
	if fix := binaryUnit(unit); fix != "" {
		return 0, fmt.Sprintf(`invalid size %q: unit %q is not a binary unit (want "%s%s": units are B, KiB, MiB, GiB, TiB)`, s, unit, num, fix)
	}
	return 0, fmt.Sprintf(`invalid size %q: unknown unit %q (want B, KiB, MiB, GiB or TiB, e.g. "16MiB")`, s, unit)
}

// binaryUnit is the unit meant by a decimal, short or miscased one ("MB",
// "m", "mib" -> "MiB"), or "".
func binaryUnit(unit string) string {
	u := strings.ToUpper(unit)
	if u == "B" {
		return "B"
	}
	u = strings.TrimSuffix(strings.TrimSuffix(u, "B"), "I")
	if len(u) == 1 && strings.Contains("KMGT", u) {
		return u + "iB"
	}
	return ""
}
