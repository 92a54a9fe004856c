package wasm

import (
	"context"
	"errors"
	"fmt"

	wapi "github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"
)

// Message is a vtproto-generated protobuf message, as every NRI request and
// response is.
type Message interface {
	SizeVT() int
	MarshalToSizedBufferVT([]byte) (int, error)
	UnmarshalVT([]byte) error
}

// maxResponse bounds what the host accepts from a guest: the largest real
// reply (a Synchronize with thousands of container updates) is far below.
const maxResponse = 16 << 20

// Instance is one instantiated guest. It is not safe for concurrent use; a
// Plugin serializes calls.
type Instance struct {
	mod       wapi.Module
	mem       wapi.Memory
	fns       [numExports]wapi.Function
	malloc    wapi.Function
	free      wapi.Function
	stack     [2]uint64
	inPtr     uint32 // guest buffer reused for requests, from the guest's malloc
	inCap     uint32
	discarded bool
}

func newInstance(m *Module, mod wapi.Module) *Instance {
	in := &Instance{mod: mod, mem: mod.Memory(), malloc: mod.ExportedFunction("malloc"), free: mod.ExportedFunction("free")}
	for e := range numExports {
		if m.abi.has[e] {
			in.fns[e] = mod.ExportedFunction(exports[e].name)
		}
	}
	return in
}

// Call invokes entry point e with req and decodes the reply into resp. Any
// error other than a *PluginError leaves the instance unusable (see Healthy).
func (in *Instance) Call(ctx context.Context, e Export, req, resp Message) (err error) {
	if in.discarded {
		return fmt.Errorf("%w: instance discarded", ErrClosed)
	}
	fn := in.fns[e]
	if fn == nil {
		return fmt.Errorf("%w: %s is not exported", ErrABI, e)
	}
	defer func() {
		if err != nil && fatal(err) {
			in.discard(ctx)
		}
	}()
	size := req.SizeVT()
	ptr, err := in.buffer(ctx, size)
	if err != nil {
		return err
	}
	if size > 0 {
		view, ok := in.mem.Read(ptr, uint32(size))
		if !ok {
			return fmt.Errorf("%w: malloc returned %#x, outside memory of %d bytes", ErrResponse, ptr, in.mem.Size())
		}
		if _, err := req.MarshalToSizedBufferVT(view); err != nil {
			return fmt.Errorf("wasm: encoding %s request: %w", e, err)
		}
	}
	packed, err := in.call(ctx, fn, uint64(ptr), uint64(size))
	if err != nil {
		return fmt.Errorf("%s: %w", e, err)
	}
	return in.decode(ctx, e, packed, resp)
}

// decode reads a ptr<<32|len result, frees it in the guest, and unmarshals it.
func (in *Instance) decode(ctx context.Context, e Export, packed uint64, resp Message) error {
	ptr, size := uint32(packed>>32), uint32(packed)
	isErr := size&(1<<31) != 0
	size &^= 1 << 31
	if size > maxResponse {
		return fmt.Errorf("%w: %s returned %d bytes, more than the %d accepted", ErrResponse, e, size, maxResponse)
	}
	view, ok := in.mem.Read(ptr, size)
	if !ok {
		return fmt.Errorf("%w: %s returned [%#x, +%d), outside memory of %d bytes", ErrResponse, e, ptr, size, in.mem.Size())
	}
	var decodeErr error
	if isErr {
		decodeErr = &PluginError{Message: sanitize(string(view), 4096)}
	} else if err := resp.UnmarshalVT(view); err != nil {
		decodeErr = fmt.Errorf("%w: %s: %v", ErrResponse, e, err)
	}
	if ptr != 0 {
		if _, err := in.call(ctx, in.free, uint64(ptr)); err != nil {
			return fmt.Errorf("free: %w", err)
		}
	}
	return decodeErr
}

// buffer returns a guest buffer of at least size bytes, reusing the previous
// one: a malloc/free pair per call costs more than the call itself.
func (in *Instance) buffer(ctx context.Context, size int) (uint32, error) {
	if size == 0 {
		return 0, nil
	}
	if size > maxResponse {
		return 0, fmt.Errorf("wasm: request of %d bytes exceeds %d", size, maxResponse)
	}
	if uint32(size) <= in.inCap {
		return in.inPtr, nil
	}
	if in.inPtr != 0 {
		if _, err := in.call(ctx, in.free, uint64(in.inPtr)); err != nil {
			return 0, fmt.Errorf("free: %w", err)
		}
		in.inPtr, in.inCap = 0, 0
	}
	want := max(uint32(size), 2*in.inCap, 4096)
	res, err := in.call(ctx, in.malloc, uint64(want))
	if err != nil {
		return 0, fmt.Errorf("malloc: %w", err)
	}
	ptr := uint32(res)
	if ptr == 0 {
		return 0, fmt.Errorf("%w: malloc(%d) returned NULL (out of memory)", ErrTrap, want)
	}
	in.inPtr, in.inCap = ptr, want
	return ptr, nil
}

// call runs one guest function and classifies its failure.
func (in *Instance) call(ctx context.Context, fn wapi.Function, params ...uint64) (res uint64, err error) {
	copy(in.stack[:], params)
	defer recoverAs(&err, ErrTrap)
	if err := fn.CallWithStack(ctx, in.stack[:]); err != nil {
		return 0, classify(err, ctx)
	}
	return in.stack[0], nil
}

// classify maps wazero's errors onto the package's sentinels.
func classify(err error, ctx context.Context) error {
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		switch exit.ExitCode() {
		case sys.ExitCodeDeadlineExceeded:
			return fmt.Errorf("%w (%v)", ErrDeadline, context.Cause(ctx))
		case sys.ExitCodeContextCanceled:
			return fmt.Errorf("%w: call canceled", ErrDeadline)
		}
		return fmt.Errorf("%w: guest exited with code %d", ErrTrap, exit.ExitCode())
	}
	return fmt.Errorf("%w: %v", ErrTrap, err)
}

// Healthy reports whether the instance may be called again.
func (in *Instance) Healthy() bool { return !in.discarded && !in.mod.IsClosed() }

func (in *Instance) discard(ctx context.Context) {
	in.discarded = true
	_ = in.mod.Close(context.WithoutCancel(ctx))
}

// Close releases the instance and its memory.
func (in *Instance) Close(ctx context.Context) { in.discard(ctx) }
