package wasm

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/containerd/nri/pkg/api"
	"github.com/tetratelabs/wazero"
	wapi "github.com/tetratelabs/wazero/api"
)

// Guest output limits: a plugin logging in a tight loop or writing megabytes
// to stdout must neither flood the node's log nor grow the host's memory.
const (
	logBurst    = 200  // lines a plugin may log at once
	logPerSec   = 50   // sustained lines per second
	maxLogLine  = 1024 // bytes kept of one line
	maxLogInput = 64 << 10
)

// guestLog routes a plugin's env.log calls and WASI stdout/stderr to slog,
// truncated and rate-limited, with the plugin's name on every record.
type guestLog struct {
	logger *slog.Logger

	mu      sync.Mutex
	tokens  float64
	last    time.Time
	dropped int
	partial [2]bytes.Buffer // unterminated stdout/stderr line
}

func newGuestLog(logger *slog.Logger) *guestLog {
	return &guestLog{logger: logger, tokens: logBurst}
}

// allow takes one token; the caller holds mu.
func (g *guestLog) allow() bool {
	now := time.Now()
	if !g.last.IsZero() {
		g.tokens = min(logBurst, g.tokens+now.Sub(g.last).Seconds()*logPerSec)
	}
	g.last = now
	if g.tokens < 1 {
		g.dropped++
		return false
	}
	g.tokens--
	if g.dropped > 0 {
		g.logger.Warn("plugin log rate limited", "dropped", g.dropped)
		g.dropped = 0
	}
	return true
}

func (g *guestLog) emit(level slog.Level, source, msg string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.allow() {
		g.logger.Log(context.Background(), level, sanitize(msg, maxLogLine), "source", source)
	}
}

// sanitize bounds and cleans guest text before it reaches a log or an error.
func sanitize(s string, limit int) string {
	if len(s) > limit {
		s = s[:limit] + "…"
	}
	s = strings.ToValidUTF8(s, string(utf8.RuneError))
	return strings.Map(func(r rune) rune {
		if r < ' ' && r != '\t' {
			return ' '
		}
		return r
	}, s)
}

// hostLog implements env.log(ptr, len) -> ptr<<32|len of an api.Empty reply.
// Bad pointers or payloads are reported and ignored: they must not trap a
// guest that merely logs badly.
func (g *guestLog) hostLog(_ context.Context, m wapi.Module, stack []uint64) {
	ptr, size := uint32(stack[0]), uint32(stack[1])
	stack[0] = 0 // an empty api.Empty: no allocation in the guest
	if size > maxLogInput {
		g.emit(slog.LevelWarn, "env.log", "plugin logged an oversized message")
		return
	}
	buf, ok := m.Memory().Read(ptr, size)
	if !ok {
		g.emit(slog.LevelWarn, "env.log", "plugin logged from outside its memory")
		return
	}
	var req api.LogRequest
	if err := req.UnmarshalVT(buf); err != nil {
		g.emit(slog.LevelWarn, "env.log", "plugin logged an invalid LogRequest: "+err.Error())
		return
	}
	g.emit(logLevel(req.Level), "env.log", req.Msg)
}

func logLevel(l api.LogRequest_Level) slog.Level {
	switch l {
	case api.LogRequest_LEVEL_DEBUG:
		return slog.LevelDebug
	case api.LogRequest_LEVEL_WARN:
		return slog.LevelWarn
	case api.LogRequest_LEVEL_ERROR:
		return slog.LevelError
	}
	return slog.LevelInfo
}

func (g *guestLog) instantiate(ctx context.Context, r wazero.Runtime) error {
	_, err := r.NewHostModuleBuilder("env").
		NewFunctionBuilder().
		WithGoModuleFunction(wapi.GoModuleFunc(g.hostLog),
			[]wapi.ValueType{wapi.ValueTypeI32, wapi.ValueTypeI32}, []wapi.ValueType{wapi.ValueTypeI64}).
		WithParameterNames("offset", "size").
		Export("log").
		Instantiate(ctx)
	return err
}

// stream is a WASI stdout or stderr: complete lines go to the log, a partial
// line is held up to maxLogLine bytes.
type stream struct {
	g     *guestLog
	fd    int
	level slog.Level
	name  string
}

// Write costs little per line once the rate limit is reached: a host call
// cannot be interrupted at the guest's deadline, and a guest may write
// megabytes of empty lines at once.
func (s stream) Write(p []byte) (int, error) {
	n := len(p)
	s.g.mu.Lock()
	defer s.g.mu.Unlock()
	buf := &s.g.partial[s.fd]
	for i := bytes.IndexByte(p, '\n'); i >= 0; i = bytes.IndexByte(p, '\n') {
		buf.Write(p[:min(i, max(0, maxLogLine-buf.Len()))])
		p = p[i+1:]
		if !s.g.allow() {
			// The limit is reached: drop the rest of the complete lines
			// without looking at them.
			if last := bytes.LastIndexByte(p, '\n'); last >= 0 {
				s.g.dropped += bytes.Count(p, []byte{'\n'})
				p = p[last+1:]
			}
			buf.Reset()
			break
		}
		s.g.logger.Log(context.Background(), s.level, sanitize(buf.String(), maxLogLine), "source", s.name)
		buf.Reset()
	}
	buf.Write(p[:min(len(p), max(0, maxLogLine-buf.Len()))])
	return n, nil
}

func (g *guestLog) stdout() stream { return stream{g, 0, slog.LevelInfo, "stdout"} }
func (g *guestLog) stderr() stream { return stream{g, 1, slog.LevelWarn, "stderr"} }
