package config

import (
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
		err  string // in the error; "" = no error
	}{
		{"0", 0, ""},
		{"4096", 4096, ""},
		{"4096B", 4096, ""},
		{"512KiB", 512 << 10, ""},
		{"16MiB", 16 << 20, ""},
		{"16 MiB", 16 << 20, ""},
		{"1GiB", 1 << 30, ""},
		{"2TiB", 2 << 40, ""},
		{"16777215TiB", 16777215 << 40, ""},
		{"16MB", 0, `invalid size "16MB": unit "MB" is not a binary unit (want "16MiB"`},
		{"16M", 0, `(want "16MiB"`},
		{"16mib", 0, `(want "16MiB"`},
		{"8k", 0, `(want "8KiB"`},
		{"8b", 0, `(want "8B"`},
		{"16EiB", 0, `unknown unit "EiB"`},
		{"16 bytes", 0, `unknown unit "bytes"`},
		{"-1", 0, `invalid size "-1": negative`},
		{"-1MiB", 0, `negative`},
		{"1.5MiB", 0, `not a whole number`},
		{"16777216TiB", 0, `too large`},
		{"18446744073709551616", 0, `too large`},
		{"", 0, `empty size`},
		{"MiB", 0, `want a whole number and a unit`},
		{"+5", 0, `want a whole number and a unit`},
		{"0x10", 0, `unknown unit "x10"`},
	}
	for _, tt := range tests {
		got, msg := parseSize(tt.in)
		switch {
		case tt.err == "" && (msg != "" || got != tt.want):
			t.Errorf("parseSize(%q) = %d, %q; want %d", tt.in, got, msg, tt.want)
		case tt.err != "" && !strings.Contains(msg, tt.err):
			t.Errorf("parseSize(%q) = %d, %q; want a problem saying %q", tt.in, got, msg, tt.err)
		}
	}
}
