package wasm

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	wapi "github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/nriwasm/nriwasm/wasm/internal/memory"
)

// Module is a plugin compiled in its own wazero runtime, from which instances
// are made. It is safe for concurrent use; its instances are not.
type Module struct {
	name     string
	cfg      Config
	runtime  wazero.Runtime
	cache    wazero.CompilationCache
	compiled wazero.CompiledModule
	abi      ABI
	log      *guestLog
	info     Info
	serial   atomic.Uint64
	reserved *memory.Reservation
}

// Info describes a compiled module, for `nriwasm check` and logs.
type Info struct {
	Engine      Engine
	ABI         string
	Events      []string
	Bytes       int
	SHA256      string
	CompileTime time.Duration
	// Need is what the module reserved from the memory budget for one
	// instance: its linear memory cap, its code and the instance overhead.
	Need memory.Need
	// BudgetBytes is the budget it reserved from (0: unlimited) and
	// BudgetInUse what the budget's modules, this one included, reserved.
	BudgetBytes, BudgetInUse uint64
	// CodeBytes is the memory the compiled code takes: executable mappings
	// under the compiler, the IR on the Go heap under the interpreter. It is
	// measured around compilation, so compile one module at a time.
	CodeBytes uint64
	// Declared linear memory in pages; MaxPages is 0 when the module declares
	// no maximum. LimitPages is the cap nriwasm enforces.
	MinPages, MaxPages, LimitPages uint32
}

// Compile validates and compiles one plugin. name is used in logs and errors.
func Compile(ctx context.Context, name string, wasm []byte, cfg Config) (_ *Module, err error) {
	engine, err := cfg.engine.Resolve()
	if err != nil {
		return nil, err
	}
	decl, err := scanMemory(wasm)
	if err != nil {
		return nil, err
	}
	limit := cfg.limitPages()
	if limit == 0 {
		return nil, fmt.Errorf("%w: memory_limit %d bytes is less than one 64 KiB page", ErrMemory, cfg.memoryLimit)
	}
	if decl.min > limit {
		return nil, fmt.Errorf("%w: module declares at least %d pages (%s) of linear memory, memory_limit allows %d pages (%s)",
			ErrMemory, decl.min, pagesSize(decl.min), limit, pagesSize(limit))
	}
	sum := sha256.Sum256(wasm)
	if digest := hex.EncodeToString(sum[:]); cfg.sha256 != "" && digest != cfg.sha256 {
		return nil, fmt.Errorf("%w: the module is %s, sha256 pins %s", ErrIntegrity, digest, cfg.sha256)
	}
	logger := cfg.logger
	if logger == nil {
		logger = slog.Default()
	}
	m := &Module{
		name: name,
		cfg:  cfg,
		log:  newGuestLog(logger),
		info: Info{Engine: engine, Bytes: len(wasm), SHA256: hex.EncodeToString(sum[:]),
			MinPages: decl.min, LimitPages: limit},
	}
	if decl.hasMax {
		m.info.MaxPages = decl.max
	}
	defer func() {
		if err != nil {
			m.Close(context.WithoutCancel(ctx))
		}
	}()
	cacheDir := ""
	if cfg.cacheDir != "" && engine == Compiler {
		cacheDir = filepath.Join(cfg.cacheDir, m.info.SHA256[:32])
	}
	measure := codeMeter(engine)
	start := time.Now()
	err = m.compile(ctx, engine, cacheDir, wasm)
	if err != nil && cacheDir != "" {
		// A corrupt or truncated cache entry is a hard compile error in
		// wazero, and so is a cache that cannot be written (a full disk):
		// drop this version's entries and compile once without the cache.
		// The next start fills it again.
		logger.Warn("compile failed with the cache; recompiling without it", "cache", cacheDir, "error", err)
		m.closeRuntime(ctx)
		if entry := filepath.Join(cacheDir, cacheName()); os.RemoveAll(entry) != nil {
			logger.Warn("cannot remove the compilation cache", "cache", entry)
		}
		cacheDir = ""
		err = m.compile(ctx, engine, cacheDir, wasm)
	}
	if err != nil {
		return nil, err
	}
	m.info.CompileTime = time.Since(start)
	m.info.CodeBytes = measure()
	if cacheDir != "" {
		pruneCache(cacheDir, logger)
	}
	exported := m.compiled.ExportedFunctions()
	if m.abi, err = detectABI(exported, m.compiled.ImportedFunctions()); err != nil {
		return nil, err
	}
	m.info.ABI = m.abi.Generation
	m.info.Events = m.abi.EventNames()
	budget := cfg.budget
	if budget == nil {
		budget = NewBudget(0)
	}
	linear := uint64(limit) * PageSize
	if decl.hasMax {
		linear = min(linear, uint64(decl.max)*PageSize)
	}
	m.info.Need = memory.Need{Linear: linear, Code: m.info.CodeBytes, Overhead: instanceOverhead}
	if m.reserved, err = budget.b.Reserve(name, m.info.Need); err != nil {
		if engine == Interpreter && m.info.CodeBytes > linear {
			err = fmt.Errorf("%w; under the interpreter (engine %q on %s) a module's code is kept as IR on the heap, "+
				"%s here: a guest in C or WAT (see wasm/plugins/c) or one shrunk with wasm-opt -Oz needs far less",
				err, cfg.engine, runtime.GOARCH, FormatBytes(m.info.CodeBytes))
		}
		return nil, err
	}
	m.info.BudgetBytes, m.info.BudgetInUse = budget.Limit(), budget.InUse()
	return m, nil
}

func (m *Module) compile(ctx context.Context, engine Engine, cacheDir string, wasm []byte) (err error) {
	rc := engine.runtimeConfig().
		WithCloseOnContextDone(true).
		WithMemoryLimitPages(m.info.LimitPages)
	if cacheDir != "" {
		if m.cache, err = wazero.NewCompilationCacheWithDir(cacheDir); err != nil {
			return fmt.Errorf("wasm: compilation cache %s: %w", cacheDir, err)
		}
		rc = rc.WithCompilationCache(m.cache)
	}
	m.runtime = wazero.NewRuntimeWithConfig(ctx, rc)
	if _, err = wasi_snapshot_preview1.Instantiate(ctx, m.runtime); err != nil {
		return fmt.Errorf("wasm: WASI: %w", err)
	}
	if err = m.log.instantiate(ctx, m.runtime); err != nil {
		return fmt.Errorf("wasm: env.log: %w", err)
	}
	// wazero can panic on malformed input on some architectures (GOARCH=arm).
	defer recoverAs(&err, ErrNotWasm)
	if m.compiled, err = m.runtime.CompileModule(ctx, wasm); err != nil {
		return fmt.Errorf("%w: %v", ErrNotWasm, err)
	}
	return nil
}

func recoverAs(err *error, kind error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%w: wazero panicked: %v", kind, r)
	}
}

// codeMeter starts measuring what compiled code will occupy in this process
// under engine: executable mappings under the compiler, live heap under the
// interpreter (which keeps its IR there). The returned function ends the
// measurement; it reads 0 where it cannot measure. Compile one module at a
// time for the numbers to be the module's own.
func codeMeter(engine Engine) func() uint64 {
	// Code of closed modules is released by finalizers: collect it now,
	// so that it is not freed (and its address reused) mid-measurement.
	runtime.GC()
	if engine == Interpreter {
		before := memory.HeapInUse()
		return func() uint64 {
			if after := memory.HeapInUse(); after > before {
				return after - before
			}
			return 0
		}
	}
	before, err := memory.ExecMappings()
	return func() uint64 {
		after, err2 := memory.ExecMappings()
		if err != nil || err2 != nil {
			return 0
		}
		return memory.NewBytes(before, after)
	}
}

// cacheName is the directory wazero keeps this binary's compiled code in,
// inside a cache directory: one per wazero version and platform.
func cacheName() string {
	version := WazeroVersion()
	if version == "unknown" {
		version = "dev" // what wazero calls itself then (test binaries have no module versions)
	}
	return "wazero-" + version + "-" + runtime.GOARCH + "-" + runtime.GOOS
}

// staleAfter is how long a cache directory of another wazero version is
// kept untouched before it is removed: long enough for a binary of that
// version that shares cache_dir (an upgrade in progress, `nriwasm check` from
// another build) to finish compiling into it.
const staleAfter = time.Hour

// pruneCache removes cache directories of other wazero versions or
// architectures, which wazero never cleans.
func pruneCache(dir string, logger *slog.Logger) {
	current := cacheName()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), "wazero-") || e.Name() == current {
			continue
		}
		if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > staleAfter {
			stale := filepath.Join(dir, e.Name())
			if err := os.RemoveAll(stale); err != nil {
				logger.Warn("cannot remove stale cache", "dir", stale, "error", err)
			}
		}
	}
}

// Name is the name given to Compile.
func (m *Module) Name() string { return m.name }

// Info describes the module.
func (m *Module) Info() Info { return m.info }

// ABI describes the module's exports.
func (m *Module) ABI() *ABI { return &m.abi }

// Close releases the compiled code and the runtime. Instances must be closed
// first.
func (m *Module) Close(ctx context.Context) {
	m.closeRuntime(ctx)
	if m.reserved != nil {
		m.reserved.Release()
	}
}

func (m *Module) closeRuntime(ctx context.Context) {
	if m.runtime != nil {
		_ = m.runtime.Close(ctx)
		m.runtime = nil
	}
	if m.cache != nil {
		_ = m.cache.Close(ctx)
		m.cache = nil
	}
}

// Instantiate makes a fresh instance and runs its start function
// (_initialize or _start) under the configured start timeout.
func (m *Module) Instantiate(ctx context.Context) (in *Instance, err error) {
	ctx, cancel := context.WithTimeout(ctx, m.cfg.startTimeout)
	defer cancel()
	mc := wazero.NewModuleConfig().
		WithName(fmt.Sprintf("%s#%d", m.name, m.serial.Add(1))).
		WithStdout(m.log.stdout()).
		WithStderr(m.log.stderr()).
		// Real clocks and randomness (wazero's defaults are fixed, so every
		// instance would draw the same numbers); sleep stays a no-op, since
		// a sleeping host call cannot be interrupted at the deadline.
		WithSysWalltime().
		WithSysNanotime().
		WithRandSource(rand.Reader).
		WithStartFunctions()
	if m.abi.Start != "" {
		mc = mc.WithStartFunctions(m.abi.Start)
	}
	var mod wapi.Module
	func() {
		defer recoverAs(&err, ErrTrap)
		mod, err = m.reserved.Instantiate(ctx, m.runtime, m.compiled, mc)
	}()
	if err != nil {
		if !errors.Is(err, ErrBudget) {
			err = classify(err, ctx)
		}
		return nil, fmt.Errorf("instantiating: %w", err)
	}
	fresh := newInstance(m, mod)
	defer func() {
		if err != nil { // every error return has set in to nil by now
			fresh.Close(ctx)
		}
	}()
	res, err := fresh.call(ctx, mod.ExportedFunction("plugin_api_version"))
	if err != nil {
		if mod.IsClosed() {
			return nil, fmt.Errorf("%w: the module exited during %s; build it as a reactor (go build -buildmode=c-shared)", ErrABI, m.abi.Start)
		}
		return nil, fmt.Errorf("plugin_api_version: %w", err)
	}
	if v := uint32(res); v != 1 {
		return nil, fmt.Errorf("%w: plugin_api_version is %d, nriwasm speaks version 1", ErrABI, v)
	}
	return fresh, nil
}

func pagesSize(pages uint32) string { return FormatBytes(uint64(pages) * PageSize) }

// FormatBytes renders n in binary units: "512 KiB", "41.5 MiB".
func FormatBytes(n uint64) string { return memory.FormatBytes(n) }
