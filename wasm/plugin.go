package wasm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// ErrUnavailable is returned while a plugin has no working instance and its
// last attempt to make one failed; attempts are retried with backoff.
var ErrUnavailable = errors.New("wasm: plugin unavailable")

// Prepare readies a fresh instance before it serves any call; nri/ replays
// Configure and Synchronize there. An error discards the instance.
type Prepare func(ctx context.Context, in *Instance) error

// Plugin owns a module's current instance. Calls are serialized; after a trap,
// a deadline or an ABI violation the instance is dropped and a fresh one is
// made and prepared in the background, so the next call finds it ready.
type Plugin struct {
	mod     *Module
	prepare Prepare
	log     *slog.Logger

	sem chan struct{} // held while using in; a channel so waiting obeys deadlines
	in  *Instance
	// Backoff after failed recoveries, guarded by sem.
	retryAt  time.Time
	backoff  time.Duration
	lastFail error
	closed   bool

	recoveries atomic.Uint64
	wg         sync.WaitGroup
}

const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 30 * time.Second
)

// NewPlugin wraps a compiled module. No instance exists until Start or the
// first call.
func NewPlugin(mod *Module, prepare Prepare) *Plugin {
	return &Plugin{mod: mod, prepare: prepare, log: mod.log.logger, sem: make(chan struct{}, 1)}
}

// Recoveries counts instances replaced after a failure.
func (p *Plugin) Recoveries() uint64 { return p.recoveries.Load() }

// Start makes and prepares the first instance.
func (p *Plugin) Start(ctx context.Context) error {
	if err := p.acquire(ctx); err != nil {
		return err
	}
	defer p.release()
	return p.ensure(ctx, true)
}

// Call invokes e on the current instance, making one first if needed, with
// exclusive use of it. If the call leaves the instance unhealthy it is
// replaced in the background.
func (p *Plugin) Call(ctx context.Context, e Export, req, resp Message) error {
	if err := p.acquire(ctx); err != nil {
		return err
	}
	defer p.release()
	if err := p.ensure(ctx, false); err != nil {
		return err
	}
	err := p.in.Call(ctx, e, req, resp)
	if !p.in.Healthy() {
		p.log.Warn("plugin instance failed; replacing it", "error", err)
		p.in = nil
		p.recoveries.Add(1)
		p.wg.Add(1)
		go p.recover()
	}
	return err
}

// Reset drops the current instance, so the next call gets a fresh, prepared
// one (nri/ does this when the runtime connection is replaced).
func (p *Plugin) Reset(ctx context.Context) error {
	if err := p.acquire(ctx); err != nil {
		return err
	}
	defer p.release()
	if p.in != nil {
		p.in.Close(ctx)
		p.in = nil
	}
	p.retryAt, p.backoff = time.Time{}, 0
	return nil
}

func (p *Plugin) recover() {
	defer p.wg.Done()
	ctx := context.Background()
	if p.acquire(ctx) != nil {
		return
	}
	defer p.release()
	if err := p.ensure(ctx, false); err != nil && !errors.Is(err, ErrClosed) {
		p.log.Error("plugin recovery failed", "error", err, "retry_in", p.backoff)
	} else if err == nil {
		p.log.Info("plugin recovered with a fresh instance")
	}
}

// ensure makes p.in ready; the caller holds sem. force ignores the backoff.
func (p *Plugin) ensure(ctx context.Context, force bool) error {
	switch {
	case p.closed:
		return ErrClosed
	case p.in != nil:
		return nil
	case !force && time.Now().Before(p.retryAt):
		return fmt.Errorf("%w: %v (next attempt in %v)", ErrUnavailable, p.lastFail, time.Until(p.retryAt).Round(time.Millisecond))
	}
	in, err := p.mod.Instantiate(ctx)
	if err == nil && p.prepare != nil {
		if err = p.prepare(ctx, in); err != nil {
			in.Close(ctx)
		}
	}
	if err != nil {
		p.backoff = min(max(2*p.backoff, minBackoff), maxBackoff)
		p.retryAt, p.lastFail = time.Now().Add(p.backoff), err
		return err
	}
	p.in, p.backoff, p.retryAt, p.lastFail = in, 0, time.Time{}, nil
	return nil
}

func (p *Plugin) acquire(ctx context.Context) error {
	select {
	case p.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w waiting for the plugin's previous call (%v)", ErrDeadline, context.Cause(ctx))
	}
}

func (p *Plugin) release() { <-p.sem }

// Close waits for a background recovery, then releases the instance and the
// module.
func (p *Plugin) Close(ctx context.Context) {
	if p.acquire(ctx) == nil {
		p.closed = true
		if p.in != nil {
			p.in.Close(ctx)
			p.in = nil
		}
		p.release()
	}
	p.wg.Wait()
	p.mod.Close(ctx)
}
