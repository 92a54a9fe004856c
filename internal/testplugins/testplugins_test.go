package testplugins

import (
	"bytes"
	"os"
	"testing"
)

func TestPath(t *testing.T) {
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b, err := os.ReadFile(Path(t, name))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(b, []byte("\x00asm")) {
				t.Errorf("%s does not start with \\0asm: % x", name, b[:min(len(b), 8)])
			}
		})
	}
}

func TestDir(t *testing.T) {
	dir := Dir(t)
	want := map[string]bool{"20-injector.conf": true}
	for file := range Layout {
		want[file] = true
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if !want[e.Name()] || info.Mode() != 0o644 {
			t.Errorf("%s: mode %v; want one of %v, mode 0644", e.Name(), info.Mode(), want)
		}
		delete(want, e.Name())
	}
	if len(want) > 0 {
		t.Errorf("missing %v", want)
	}
	if info, err := os.Stat(dir); err != nil {
		t.Error(err)
	} else if info.Mode().Perm() != 0o755 {
		t.Errorf("directory mode %v, want 0755", info.Mode())
	}
}
