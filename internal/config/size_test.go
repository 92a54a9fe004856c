package config

import (
	"errors"
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
		got, err := ParseSize(tt.in)
		switch {
		case tt.err == "" && (err != nil || got != tt.want):
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err) || !errors.Is(err, ErrInvalid)):
			t.Errorf("ParseSize(%q) = %d, %v; want an ErrInvalid with %q", tt.in, got, err, tt.err)
		}
	}
}
