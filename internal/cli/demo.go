package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/nriwasm/nriwasm/internal/config"
	"github.com/nriwasm/nriwasm/nri"
	"github.com/nriwasm/nriwasm/nri/sim"
)

// DemoOptions are the flags of `nriwasm demo`.
type DemoOptions struct {
	Config    string // config file; "" for the default
	Scenario  string // scenario file; "" for the built-in one
	PluginDir string // overrides the config's plugin_dir
	JSON      bool
}

// demoLine is one line of `nriwasm demo -json`.
type demoLine struct {
	Event     string          `json:"event"`
	Plugin    string          `json:"plugin,omitempty"`
	Pod       string          `json:"pod,omitempty"`
	Container string          `json:"container,omitempty"`
	Response  json.RawMessage `json:"response,omitempty"`
	Error     string          `json:"error,omitempty"`
}

// Demo is `nriwasm demo`: containerd's own NRI library runs in-process as the
// runtime on a private socket, every configured plugin connects to it exactly
// as `run` connects to a real runtime, and a pod lifecycle is replayed. Each
// event is printed with the runtime's merged result.
func Demo(ctx context.Context, env Env, o DemoOptions) error {
	cfg, err := config.Load(o.Config, env.Embedded)
	if err != nil {
		return err
	}
	scenario := sim.DefaultScenario()
	if o.Scenario != "" {
		data, err := os.ReadFile(o.Scenario)
		if err != nil {
			return fmt.Errorf("%w: %w", sim.ErrScenario, err)
		}
		if scenario, err = sim.ParseScenario(o.Scenario, data); err != nil {
			return err
		}
	}
	if o.PluginDir != "" {
		cfg.PluginDir = o.PluginDir
	}
	if o.Config == "" && cfg.File != config.DefaultPath {
		// The embedded defaults name system directories; a demo leaves
		// them alone.
		if dir, err := os.UserCacheDir(); err == nil {
			cfg.CacheDir = filepath.Join(dir, "nriwasm")
		}
	}
	if err := cfg.Resolve(); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "nriwasm-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfg.Socket = filepath.Join(dir, "nri.sock")

	logger := newLogger(env.Stderr, cfg.LogLevel)
	nri.SetLibraryLogger(logger)
	rt, err := sim.Start(cfg.Socket)
	if err != nil {
		return err
	}
	defer rt.Stop()

	out := demoPrinter{env: env, json: o.JSON}
	host, err := nri.Load(ctx, cfg, nri.WithLogger(logger))
	for _, le := range loadErrors(err) {
		out.print(demoLine{Event: "load", Plugin: le.Plugin, Error: le.Err.Error()})
	}
	if host == nil {
		return fmt.Errorf("demo: no plugin loaded: %w", err)
	}
	hctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- host.Run(hctx) }()
	defer func() { stop(); <-done }()

	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := rt.WaitPlugins(wctx, len(host.Registrations())); err != nil {
		return fmt.Errorf("demo: plugins did not register: %w", err)
	}
	return rt.Replay(ctx, scenario, func(s sim.Step) {
		line := demoLine{Event: s.Event.PrettyName(), Pod: s.Pod.GetNamespace() + "/" + s.Pod.GetName()}
		if s.Container != nil {
			line.Container = s.Container.GetName()
		}
		if s.Err != nil {
			line.Error = s.Err.Error()
		} else if b, err := protojson.Marshal(s.Response); err == nil {
			line.Response = b
		}
		out.print(line)
	})
}

// loadErrors picks the per-plugin failures out of nri.Load's error.
func loadErrors(err error) []*nri.LoadError {
	var out []*nri.LoadError
	var walk func(error)
	walk = func(err error) {
		if le, ok := errors.AsType[*nri.LoadError](err); ok {
			out = append(out, le)
			return
		}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
		}
	}
	if err != nil {
		walk(err)
	}
	return out
}

type demoPrinter struct {
	env  Env
	json bool
}

func (p demoPrinter) print(l demoLine) {
	if p.json {
		b, _ := json.Marshal(l)
		fmt.Fprintf(p.env.Stdout, "%s\n", b)
		return
	}
	subject := l.Pod
	if l.Container != "" {
		subject += "/" + l.Container
	}
	if l.Plugin != "" {
		subject = "plugin " + l.Plugin
	}
	result := string(l.Response)
	if l.Error != "" {
		result = "ERROR " + l.Error
	} else if result == "{}" {
		result = "ok"
	}
	fmt.Fprintf(p.env.Stdout, "%-22s %-24s %s\n", l.Event, subject, result)
}
