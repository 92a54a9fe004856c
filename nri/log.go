package nri

import (
	"context"
	"fmt"
	"log/slog"

	nrilog "github.com/containerd/nri/pkg/log"
)

// SetLibraryLogger routes containerd/nri's own log (one process-wide logger,
// shared by pkg/adaptation in the demo runtime) to l. Its informational
// chatter is demoted to debug.
func SetLibraryLogger(l *slog.Logger) { nrilog.Set(libraryLogger{l.With("component", "nri")}) }

type libraryLogger struct{ l *slog.Logger }

func (n libraryLogger) Debugf(ctx context.Context, format string, args ...any) {
	n.l.DebugContext(ctx, fmt.Sprintf(format, args...))
}

func (n libraryLogger) Infof(ctx context.Context, format string, args ...any) {
	n.l.DebugContext(ctx, fmt.Sprintf(format, args...))
}

func (n libraryLogger) Warnf(ctx context.Context, format string, args ...any) {
	n.l.WarnContext(ctx, fmt.Sprintf(format, args...))
}

func (n libraryLogger) Errorf(ctx context.Context, format string, args ...any) {
	n.l.ErrorContext(ctx, fmt.Sprintf(format, args...))
}
