package wasm

import (
	"log/slog"
	"time"
)

// Config is how modules are compiled and instantiated. It is immutable: each
// With method returns a copy.
type Config struct {
	engine       Engine
	cacheDir     string
	memoryLimit  uint64
	startTimeout time.Duration
	logger       *slog.Logger
	budget       *Budget
	sha256       string
}

// NewConfig returns the defaults: engine auto, no compilation cache, a 32 MiB
// memory limit, 20 s to instantiate, the default logger.
func NewConfig() Config {
	return Config{engine: Auto, memoryLimit: 32 << 20, startTimeout: 20 * time.Second}
}

// WithEngine selects the engine; it is resolved (and refused where it cannot
// run) when a module is compiled.
func (c Config) WithEngine(e Engine) Config { c.engine = e; return c }

// WithCacheDir keeps compiled machine code under dir, one subdirectory per
// module. "" disables the cache. The interpreter does not use it.
func (c Config) WithCacheDir(dir string) Config { c.cacheDir = dir; return c }

// WithMemoryLimit caps each instance's linear memory, in bytes (rounded down to
// whole 64 KiB pages).
func (c Config) WithMemoryLimit(bytes uint64) Config { c.memoryLimit = bytes; return c }

// WithStartTimeout bounds instantiation, including the guest's _initialize.
func (c Config) WithStartTimeout(d time.Duration) Config { c.startTimeout = d; return c }

// WithBudget makes modules reserve their memory from b, shared with other
// modules. Without it each module has an unlimited budget of its own.
func (c Config) WithBudget(b *Budget) Config { c.budget = b; return c }

// WithSHA256 pins the module's digest (lowercase hex): Compile refuses
// other bytes with ErrIntegrity. "" pins nothing.
func (c Config) WithSHA256(digest string) Config { c.sha256 = digest; return c }

// WithLogger receives the guest's env.log, stdout and stderr output.
func (c Config) WithLogger(l *slog.Logger) Config { c.logger = l; return c }

func (c Config) limitPages() uint32 {
	return uint32(min(c.memoryLimit/PageSize, 65536))
}
