// Package cli implements nriwasm's commands; main.go only parses flags and
// dispatches to them.
package cli

import (
	"errors"
	"io"
	"log/slog"
	"log/syslog"
)

// Env is what a command runs with.
type Env struct {
	Stdout, Stderr io.Writer
	// Embedded is the default configuration (the repository's config.toml),
	// used when no file is named and /etc/nriwasm/config.toml is absent.
	Embedded []byte
	// Version is the build's version string.
	Version string
}

// ErrFailed is returned by a command whose report already said what failed,
// so only the exit status is left to set.
var ErrFailed = errors.New("failed")

func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// syslogLogger logs to the system log. A runtime-launched plugin's stdout
// and stderr are /dev/null, so that is where its records can be read.
func syslogLogger(name string, level slog.Level) (*slog.Logger, error) {
	w, err := syslog.New(syslog.LOG_DAEMON|syslog.LOG_INFO, "nriwasm-"+name)
	if err != nil {
		return nil, err
	}
	return newLogger(w, level), nil
}
