package cli

import (
	"context"
	"fmt"
	"math"
	"os"
	"runtime/debug"

	"github.com/nriwasm/nriwasm/internal/config"
	"github.com/nriwasm/nriwasm/nri"
)

// Run is `nriwasm run`: the daemon. It registers every configured plugin with
// the runtime, reconnecting whenever the runtime restarts, until ctx is done.
// When the runtime itself started the process (launched mode) it serves the
// one plugin it was started as, over the connection it was given.
func Run(ctx context.Context, env Env, configPath string) error {
	launch, launched, err := nri.Launched()
	if err != nil {
		return err
	}
	cfg, err := config.Load(configPath, env.Embedded)
	if err != nil {
		return err
	}
	if err := cfg.Resolve(); err != nil {
		return err
	}
	logger := newLogger(env.Stderr, cfg.LogLevel)
	var opts []nri.Option
	if launched {
		if logger, err = syslogLogger(launch.Index+"-"+launch.Name, cfg.LogLevel); err != nil {
			logger = newLogger(env.Stderr, cfg.LogLevel)
		}
		if err := selectLaunched(cfg, launch); err != nil {
			logger.Error("cannot serve the runtime", "error", err)
			return err
		}
		opts = append(opts, nri.WithConnection(launch.Conn))
	}
	nri.SetLibraryLogger(logger)
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set && cfg.MemoryBudget > 0 {
		// The Go heap holds what the budget does not see (the interpreter's
		// code is in it, but so are ttrpc buffers and requests): let the
		// collector work harder rather than let the heap outgrow the budget.
		debug.SetMemoryLimit(int64(min(cfg.MemoryBudget, math.MaxInt64)))
	}
	logger.Info("starting", "version", env.Version, "config", cfg.File, "plugins", len(cfg.Plugins))
	host, err := nri.Load(ctx, cfg, append(opts,
		nri.WithLogger(logger),
		nri.WithOnReady(func() {
			logger.Info("every plugin registered and synchronized")
			if err := nri.Notify("READY=1"); err != nil {
				logger.Warn("systemd notification failed", "error", err)
			}
		}))...)
	if host == nil {
		return err
	}
	if !launched {
		logger.Info("connecting to the runtime", "socket", cfg.Socket)
	}
	err = host.Run(ctx)
	_ = nri.Notify("STOPPING=1")
	logger.Info("stopped")
	return err
}

// selectLaunched keeps only the plugin the runtime launched this process as:
// the configured plugin of that name, under the index the runtime gave.
func selectLaunched(cfg *config.Config, l nri.Launch) error {
	for _, p := range cfg.Plugins {
		if p.Name == l.Name {
			p.Index = l.Index
			cfg.Plugins = []config.Plugin{p}
			return nil
		}
	}
	return fmt.Errorf("launched as plugin %s-%s, but %s configures no plugin named %q (in plugin_dir %s or a [[plugin]] entry)",
		l.Index, l.Name, cfg.File, l.Name, cfg.PluginDir)
}
