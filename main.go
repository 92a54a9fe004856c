// Command nriwasm runs containerd/nri WebAssembly plugins beside the container
// runtime, each under a strict memory limit and deadlines and in its own NRI
// registration. See README.md.
package main

import (
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/nriwasm/nriwasm/internal/cli"
	"github.com/nriwasm/nriwasm/nri"
)

// defaultConfig is the documented default configuration, used when no file
// is named and /etc/nriwasm/config.toml does not exist.
//
//go:embed config.toml
var defaultConfig []byte

// version is stamped by the build (-X main.version=...).
var version = "dev"

const usage = `usage: nriwasm <command> [flags]

commands:
  run      [-config FILE]                                 serve the runtime (the daemon)
  check    [-config FILE] [-json] [FILE.wasm...]          compile, instantiate and report on plugins
                                                          (without files: the configured ones)
  demo     [-config FILE] [-scenario FILE] [-plugin-dir DIR] [-json]
                                                          replay a pod lifecycle against an in-process runtime
  config                                                  print the built-in default configuration
  version                                                 print versions and the engine in use

Started by the runtime as NN-name in its plugin_path (NRI_PLUGIN_SOCKET set),
nriwasm serves that one plugin: see README.md, "Launched by the runtime".
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	env := cli.Env{Stdout: stdout, Stderr: stderr, Embedded: defaultConfig, Version: version}
	cmd := ""
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	} else if nri.LaunchedByRuntime() {
		cmd = "run" // a runtime starts its plugins without arguments
	}
	flags := flag.NewFlagSet("nriwasm "+cmd, flag.ContinueOnError)
	flags.SetOutput(stderr)
	configPath := flags.String("config", "", "configuration file (default /etc/nriwasm/config.toml if present, else the built-in defaults)")
	var err error
	switch cmd {
	case "run":
		if err = parse(flags, args, 0); err == nil {
			err = cli.Run(ctx, env, *configPath)
		}
	case "check":
		jsonOut := flags.Bool("json", false, "one JSON object per file")
		if err = parse(flags, args, -1); err == nil {
			err = cli.Check(ctx, env, *configPath, *jsonOut, flags.Args())
		}
	case "demo":
		o := cli.DemoOptions{}
		flags.StringVar(&o.Scenario, "scenario", "", "scenario file (TOML, [[pod]] entries; default: one pod, two containers)")
		flags.StringVar(&o.PluginDir, "plugin-dir", "", "directory of NN-name.wasm plugins, instead of the config's plugin_dir")
		flags.BoolVar(&o.JSON, "json", false, "one JSON object per event")
		if err = parse(flags, args, 0); err == nil {
			o.Config = *configPath
			err = cli.Demo(ctx, env, o)
		}
	case "config":
		if err = parse(flags, args, 0); err == nil {
			_, err = stdout.Write(defaultConfig)
		}
	case "version":
		if err = parse(flags, args, 0); err == nil {
			cli.Version(env)
		}
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprint(stderr, usage)
		if cmd != "" {
			fmt.Fprintf(stderr, "\nnriwasm: unknown command %q\n", cmd)
		}
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp), errors.Is(err, errUsage):
		return 2
	case errors.Is(err, cli.ErrFailed):
		return 1
	}
	fmt.Fprintf(stderr, "nriwasm %s: %v\n", cmd, err)
	return 1
}

var errUsage = errors.New("usage")

// parse parses flags; want is the number of positional arguments allowed
// (-1: any).
func parse(flags *flag.FlagSet, args []string, want int) error {
	if err := flags.Parse(args); err != nil {
		return err
	}
	if want >= 0 && flags.NArg() > want {
		fmt.Fprintf(flags.Output(), "%s: unexpected argument %q\n", flags.Name(), flags.Arg(want))
		return errUsage
	}
	return nil
}
