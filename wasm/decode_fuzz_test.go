package wasm

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/containerd/nri/pkg/api"
	"google.golang.org/protobuf/proto"

	"github.com/nriwasm/nriwasm/internal/testplugins"
)

// A guest's packed result (ptr<<32 | len, bit 31 of len for an error
// string) is decoded into the response, a clean *PluginError or
// ErrResponse, whatever its bits and the guest's memory hold.
func FuzzDecode(f *testing.F) {
	const at = 1024 // where the fuzzed bytes go in the guest's memory
	f.Add(uint64(at)<<32|4, []byte("\x0a\x02\x22\x00"))
	f.Add(uint64(at)<<32|1<<31|9, []byte("bad\x1b[0m\xff\n"))
	f.Add(uint64(at)<<32|100<<20, []byte{})
	f.Add(uint64(0xfffff000)<<32|16, []byte{})
	f.Add(uint64(at)<<32|11, []byte("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"))
	bin, err := os.ReadFile(testplugins.Path(f, "empty"))
	if err != nil {
		f.Fatal(err)
	}
	ctx := context.Background()
	m, err := Compile(ctx, "empty", bin, NewConfig())
	if err != nil {
		f.Fatal(err)
	}
	in, err := m.Instantiate(ctx)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { in.Close(ctx); m.Close(ctx) })
	f.Fuzz(func(t *testing.T, packed uint64, data []byte) {
		data = data[:min(len(data), int(in.mem.Size())-at)]
		in.mem.Write(at, data)
		var resp api.CreateContainerResponse
		err := in.decode(ctx, CreateContainer, packed, &resp)

		ptr, size := uint32(packed>>32), uint32(packed)&^(1<<31)
		view, inside := in.mem.Read(ptr, size)
		var perr *PluginError
		switch {
		case size > maxResponse || !inside:
			if !errors.Is(err, ErrResponse) {
				t.Fatalf("[%#x, +%d) of %d bytes: error %v, want ErrResponse", ptr, size, in.mem.Size(), err)
			}
		case packed&(1<<31) != 0:
			if !errors.As(err, &perr) {
				t.Fatalf("error string: got %v, want a *PluginError", err)
			}
			if len(perr.Message) > 4096+len("…") || !utf8.ValidString(perr.Message) ||
				strings.ContainsFunc(perr.Message, func(r rune) bool { return r < ' ' && r != '\t' }) {
				t.Fatalf("plugin error %q is not bounded, clean UTF-8", perr.Message)
			}
		default:
			var want api.CreateContainerResponse
			if werr := want.UnmarshalVT(view); werr != nil {
				if !errors.Is(err, ErrResponse) {
					t.Fatalf("undecodable reply: error %v, want ErrResponse", err)
				}
			} else if err != nil || !proto.Equal(&resp, &want) {
				t.Fatalf("decoded %v, %v; want %v", &resp, err, &want)
			}
		}
		if !in.Healthy() {
			t.Fatal("decode discarded the instance")
		}
	})
}
