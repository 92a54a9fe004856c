package nri

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nriwasm/nriwasm/internal/config"
	"github.com/nriwasm/nriwasm/wasm"
)

// Host runs a set of Wasm plugins, each in its own NRI registration.
type Host struct {
	regs    []*Registration
	log     *slog.Logger
	onReady func()
}

// LoadError is a plugin that could not be loaded; the others still run.
type LoadError struct {
	Plugin string // "NN-name"
	Err    error
}

func (e *LoadError) Error() string { return fmt.Sprintf("plugin %s: %v", e.Plugin, e.Err) }
func (e *LoadError) Unwrap() error { return e.Err }

// Option configures a Host.
type Option func(*options)

type options struct {
	logger  *slog.Logger
	conn    net.Conn
	onReady func()
}

// WithLogger sets the logger; each plugin's records carry its name.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithConnection serves the host's only plugin over conn, a connection the
// runtime made (launched mode), instead of dialing the configured socket. The
// host stops when conn is closed: a runtime never re-admits a launched plugin
// over a new connection.
func WithConnection(conn net.Conn) Option { return func(o *options) { o.conn = conn } }

// WithOnReady is called once every plugin has registered and synchronized
// for the first time.
func WithOnReady(f func()) Option { return func(o *options) { o.onReady = f } }

// Load compiles and instantiates every configured plugin, in index order,
// each reserving its memory from one budget of cfg.MemoryBudget. A plugin
// that fails to load (or to fit the budget) is reported in the returned
// error (a join of *LoadError) and left out; the host runs the others. The
// host is nil only if no plugin loaded.
func Load(ctx context.Context, cfg *config.Config, opts ...Option) (*Host, error) {
	o := options{logger: slog.Default()}
	for _, opt := range opts {
		opt(&o)
	}
	if o.conn != nil && len(cfg.Plugins) != 1 {
		return nil, fmt.Errorf("nri: a runtime connection serves exactly one plugin, %d configured", len(cfg.Plugins))
	}
	engine, err := wasm.Engine(cfg.Engine).Resolve()
	if err != nil {
		return nil, err
	}
	if cfg.CacheDir != "" {
		if err := os.MkdirAll(cfg.CacheDir, 0o700); err != nil {
			o.logger.Warn("compilation cache unavailable; compiling without it", "cache_dir", cfg.CacheDir, "error", err)
			cfg.CacheDir = ""
		}
	}
	limits := make([]uint64, len(cfg.Plugins))
	for i, p := range cfg.Plugins {
		limits[i] = p.MemoryLimit
	}
	if err := wasm.CheckAddressSpace(cfg.MemoryBudget, limits); err != nil {
		return nil, err
	}
	h := &Host{log: o.logger}
	budget := wasm.NewBudget(cfg.MemoryBudget)
	var ready atomic.Int32
	var errs []error
	for _, spec := range cfg.Plugins {
		r, err := h.load(ctx, cfg, spec, engine, budget)
		if err != nil {
			errs = append(errs, &LoadError{Plugin: spec.Index + "-" + spec.Name, Err: err})
			o.logger.Error("plugin not loaded", "plugin", spec.Index+"-"+spec.Name, "error", err)
			continue
		}
		if o.conn != nil {
			conn := o.conn
			r.dial = func(context.Context) (net.Conn, error) { return conn, nil }
			r.once = true
		} else {
			r.dial = dialer(cfg.Socket)
		}
		var synced sync.Once
		r.onSynced = func() {
			synced.Do(func() {
				if int(ready.Add(1)) == len(h.regs) && o.onReady != nil {
					o.onReady()
				}
			})
		}
		h.regs = append(h.regs, r)
	}
	// Compiling takes hundreds of MiB of heap for a large guest, briefly:
	// give it back to the system now rather than at the scavenger's pace.
	debug.FreeOSMemory()
	if len(h.regs) == 0 {
		return nil, errors.Join(errs...)
	}
	return h, errors.Join(errs...)
}

func (h *Host) load(ctx context.Context, cfg *config.Config, spec config.Plugin, engine wasm.Engine, budget *wasm.Budget) (*Registration, error) {
	log := h.log.With("plugin", spec.Index+"-"+spec.Name)
	bin, err := os.ReadFile(spec.Path)
	if err != nil {
		return nil, err
	}
	mod, err := wasm.Compile(ctx, spec.Name, bin, wasm.NewConfig().
		WithEngine(engine).
		WithCacheDir(cfg.CacheDir).
		WithMemoryLimit(spec.MemoryLimit).
		WithStartTimeout(startTimeout(spec.Timeout)).
		WithBudget(budget).
		// Checked again on the bytes compiled: the file may have changed
		// since the configuration was resolved.
		WithSHA256(spec.SHA256).
		WithLogger(log))
	if err != nil {
		return nil, err
	}
	r := &Registration{spec: spec, abi: mod.ABI(), log: log, state: newState()}
	r.plugin = wasm.NewPlugin(mod, r.prepare)
	if err := r.plugin.Start(ctx); err != nil {
		r.plugin.Close(ctx)
		return nil, err
	}
	info := mod.Info()
	log.Info("plugin loaded", "path", spec.Path, "engine", info.Engine, "abi", info.ABI, "compile", info.CompileTime)
	return r, nil
}

// startTimeout bounds a plugin's _initialize: generous next to its calls (a
// Go guest's runtime starts in 10-50 ms natively, much slower emulated), yet
// a guest spinning there must not hold back the plugins after it for long.
func startTimeout(call time.Duration) time.Duration { return max(10*call, 5*time.Second) }

func dialer(socket string) func(context.Context) (net.Conn, error) {
	var d net.Dialer
	return func(ctx context.Context) (net.Conn, error) { return d.DialContext(ctx, "unix", socket) }
}

// Registrations lists the loaded plugins in index order.
func (h *Host) Registrations() []*Registration { return h.regs }

// Run serves the runtime until ctx is done (or, in launched mode, until the
// runtime closes the connection), then releases every plugin.
func (h *Host) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	errs := make([]error, len(h.regs))
	for i, r := range h.regs {
		wg.Go(func() { errs[i] = r.run(ctx) })
	}
	wg.Wait()
	for _, r := range h.regs {
		r.plugin.Close(context.WithoutCancel(ctx))
	}
	return errors.Join(errs...)
}
