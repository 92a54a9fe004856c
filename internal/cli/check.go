package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/nriwasm/nriwasm/internal/config"
	"github.com/nriwasm/nriwasm/wasm"
)

// checkReport is what `nriwasm check` says of one file.
type checkReport struct {
	File            string   `json:"file"`
	OK              bool     `json:"ok"`
	Error           string   `json:"error,omitempty"`
	SHA256          string   `json:"sha256,omitempty"`
	Bytes           int      `json:"bytes,omitempty"`
	ABI             string   `json:"abi,omitempty"`
	Events          []string `json:"events,omitempty"`
	Engine          string   `json:"engine,omitempty"`
	CompileMS       float64  `json:"compile_ms,omitempty"`
	InstantiateMS   float64  `json:"instantiate_ms,omitempty"`
	MemoryMinBytes  uint64   `json:"memory_min_bytes,omitempty"`
	MemoryMaxBytes  uint64   `json:"memory_max_bytes,omitempty"` // 0: the module declares no maximum
	MemoryCapBytes  uint64   `json:"memory_cap_bytes,omitempty"`
	CodeBytes       uint64   `json:"code_bytes,omitempty"`
	NeedBytes       uint64   `json:"budget_need_bytes,omitempty"` // reserved from memory_budget: linear cap + code + overhead
	BudgetBytes     uint64   `json:"budget_bytes,omitempty"`      // memory_budget; 0: unlimited
	BudgetInUse     uint64   `json:"budget_in_use_bytes,omitempty"`
	CompileCacheDir string   `json:"cache_dir,omitempty"`
}

// Check is `nriwasm check`: each file is compiled and instantiated under the
// configured engine, cache and [defaults] memory limit, reserving from one
// memory budget in the order given (as `run` admits plugins in index order),
// and reported on; without files, every configured plugin with its own
// settings. It fills the compilation cache on the way. It returns ErrFailed
// if any plugin would not load.
func Check(ctx context.Context, env Env, configPath string, jsonOut bool, files []string) error {
	cfg, err := config.Load(configPath, env.Embedded)
	if err != nil {
		return err
	}
	// Without files, the configured plugins, each with its own settings,
	// in the order `run` admits them.
	specs := make([]config.Plugin, len(files))
	for i, f := range files {
		specs[i] = cfg.Defaults
		specs[i].Name, specs[i].Path = f, f
	}
	if len(files) == 0 {
		if err := cfg.Resolve(); err != nil {
			return err
		}
		specs = cfg.Plugins
	}
	engine, err := wasm.Engine(cfg.Engine).Resolve()
	if err != nil {
		return err
	}
	if cfg.CacheDir != "" && os.MkdirAll(cfg.CacheDir, 0o700) != nil {
		cfg.CacheDir = "" // check still reports; the daemon warns about the cache
	}
	logger := newLogger(env.Stderr, cfg.LogLevel)
	budget := wasm.NewBudget(cfg.MemoryBudget)
	var plugins []*wasm.Plugin // kept to the end: each holds its share of the budget
	defer func() {
		for _, p := range plugins {
			p.Close(context.WithoutCancel(ctx))
		}
	}()
	failed := false
	for _, spec := range specs {
		rep, p := checkFile(ctx, cfg, engine, budget, spec, logger)
		if p != nil {
			plugins = append(plugins, p)
		}
		failed = failed || !rep.OK
		if jsonOut {
			b, _ := json.Marshal(rep)
			fmt.Fprintf(env.Stdout, "%s\n", b)
		} else {
			printCheck(env, rep)
		}
	}
	if failed {
		return ErrFailed
	}
	return nil
}

func checkFile(ctx context.Context, cfg *config.Config, engine wasm.Engine, budget *wasm.Budget, spec config.Plugin, logger *slog.Logger) (checkReport, *wasm.Plugin) {
	rep := checkReport{File: spec.Path}
	fail := func(err error) (checkReport, *wasm.Plugin) {
		rep.Error = err.Error()
		return rep, nil
	}
	bin, err := os.ReadFile(spec.Path)
	if err != nil {
		return fail(err)
	}
	mod, err := wasm.Compile(ctx, spec.Name, bin, wasm.NewConfig().
		WithEngine(engine).
		WithCacheDir(cfg.CacheDir).
		WithMemoryLimit(spec.MemoryLimit).
		WithBudget(budget).
		WithSHA256(spec.SHA256).
		WithLogger(logger.With("plugin", spec.Name)))
	if err != nil {
		return fail(err)
	}
	info := mod.Info()
	rep.SHA256, rep.Bytes, rep.ABI, rep.Events, rep.Engine = info.SHA256, info.Bytes, info.ABI, info.Events, string(info.Engine)
	rep.CompileMS = ms(info.CompileTime)
	rep.MemoryMinBytes = uint64(info.MinPages) * wasm.PageSize
	rep.MemoryMaxBytes = uint64(info.MaxPages) * wasm.PageSize
	rep.MemoryCapBytes = uint64(info.LimitPages) * wasm.PageSize
	rep.CodeBytes = info.CodeBytes
	rep.NeedBytes, rep.BudgetBytes, rep.BudgetInUse = info.Need.Total(), info.BudgetBytes, info.BudgetInUse
	if engine == wasm.Compiler {
		rep.CompileCacheDir = cfg.CacheDir
	}
	p := wasm.NewPlugin(mod, nil)
	start := time.Now()
	if err := p.Start(ctx); err != nil {
		p.Close(context.WithoutCancel(ctx))
		return fail(err)
	}
	rep.InstantiateMS = ms(time.Since(start))
	rep.OK = true
	return rep, p
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func printCheck(env Env, r checkReport) {
	if !r.OK {
		fmt.Fprintf(env.Stdout, "%s: FAIL: %s\n", r.File, r.Error)
		return
	}
	maxMem := "none declared"
	if r.MemoryMaxBytes > 0 {
		maxMem = wasm.FormatBytes(r.MemoryMaxBytes)
	}
	fmt.Fprintf(env.Stdout, "%s: ok\n", r.File)
	fmt.Fprintf(env.Stdout, "  abi:          %s\n", r.ABI)
	fmt.Fprintf(env.Stdout, "  events:       %s\n", strings.Join(r.Events, ", "))
	fmt.Fprintf(env.Stdout, "  engine:       %s\n", r.Engine)
	fmt.Fprintf(env.Stdout, "  compile:      %.1f ms\n", r.CompileMS)
	fmt.Fprintf(env.Stdout, "  instantiate:  %.1f ms\n", r.InstantiateMS)
	fmt.Fprintf(env.Stdout, "  memory:       declared min %s, max %s; capped at %s\n", wasm.FormatBytes(r.MemoryMinBytes), maxMem, wasm.FormatBytes(r.MemoryCapBytes))
	fmt.Fprintf(env.Stdout, "  code:         %s\n", wasm.FormatBytes(r.CodeBytes))
	budget := "unlimited budget"
	if r.BudgetBytes > 0 {
		budget = "budget " + wasm.FormatBytes(r.BudgetBytes)
	}
	fmt.Fprintf(env.Stdout, "  reserves:     %s (linear cap + code + instance overhead); %s, %s in use\n",
		wasm.FormatBytes(r.NeedBytes), budget, wasm.FormatBytes(r.BudgetInUse))
	fmt.Fprintf(env.Stdout, "  size, sha256: %s, %s\n", wasm.FormatBytes(uint64(r.Bytes)), r.SHA256)
}
