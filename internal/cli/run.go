package cli

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/nriwasm/nriwasm/internal/config"
	"github.com/nriwasm/nriwasm/nri"
)

// Run is `nriwasm run`: the daemon. It registers every configured plugin with
// the runtime, reconnecting whenever the runtime restarts, until ctx is done.
// SIGHUP reloads: a new configuration that checks out replaces the running
// one (every plugin is loaded and registered anew), one that does not is
// refused and the running one kept.
//
// When the runtime itself started the process (launched mode) it serves the
// one plugin it was started as, over the connection it was given, until the
// runtime closes it; it cannot be reloaded.
func Run(ctx context.Context, env Env, configPath string) error {
	launch, launched, err := nri.Launched()
	if err != nil {
		return err
	}
	load := func() (*config.Config, error) {
		cfg, err := config.Load(configPath, env.Embedded)
		if err == nil {
			err = cfg.Resolve()
		}
		if err == nil && launched {
			err = selectLaunched(cfg, launch)
		}
		return cfg, err
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	logger := newLogger(env.Stderr, cfg.LogLevel)
	var opts []nri.Option
	if launched {
		if l, err := syslogLogger(launch.Index+"-"+launch.Name, cfg.LogLevel); err == nil {
			logger = l
		}
		opts = append(opts, nri.WithConnection(launch.Conn))
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	defer notify(logger, "STOPPING=1")
	for {
		hctx, stop := context.WithCancel(ctx)
		done, err := serve(hctx, env, cfg, logger, opts)
		if err != nil {
			stop()
			return err
		}
		next, err := awaitReload(done, hup, load, logger, launched)
		stop()
		if next == nil {
			logger.Info("stopped")
			return err
		}
		logger.Info("reloading", "config", next.File, "plugins", len(next.Plugins))
		notify(logger, "RELOADING=1")
		<-done
		cfg, logger = next, newLogger(env.Stderr, next.LogLevel)
	}
}

// awaitReload waits until the host ends (with its error) or a SIGHUP brings
// a configuration that checks out.
func awaitReload(done <-chan error, hup <-chan os.Signal, load func() (*config.Config, error), logger *slog.Logger, launched bool) (*config.Config, error) {
	for {
		select {
		case err := <-done:
			return nil, err
		case <-hup:
			if launched {
				logger.Warn("SIGHUP ignored: a plugin the runtime launched is reloaded by restarting the runtime")
				continue
			}
			next, err := load()
			if err != nil {
				logger.Error("reload refused; the running configuration stays", "error", err)
				continue
			}
			return next, nil
		}
	}
}

// serve loads cfg's plugins and runs them until ctx is done; the result of
// the run arrives on the channel. It fails only when no plugin loaded.
func serve(ctx context.Context, env Env, cfg *config.Config, logger *slog.Logger, opts []nri.Option) (<-chan error, error) {
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
			notify(logger, fmt.Sprintf("READY=1\nSTATUS=%d plugins registered with the runtime at %s", len(cfg.Plugins), cfg.Socket))
		}))...)
	if host == nil {
		return nil, err
	}
	notify(logger, "STATUS=waiting for the runtime at "+cfg.Socket)
	done := make(chan error, 1)
	go func() { done <- host.Run(ctx) }()
	return done, nil
}

func notify(logger *slog.Logger, state string) {
	if err := nri.Notify(state); err != nil {
		logger.Warn("systemd notification failed", "error", err)
	}
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
