package nri

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/containerd/nri/pkg/api"
	"google.golang.org/protobuf/proto"

	"github.com/nriwasm/nriwasm/internal/config"
	"github.com/nriwasm/nriwasm/wasm"
)

// trackedEvents are the events every registration subscribes to, whatever
// the guest asked for, to keep the state a fresh instance is synchronized
// from. They are the events every NRI version has had, so no runtime refuses
// the subscription.
var trackedEvents = func() (m api.EventMask) {
	for ev := api.Event_RUN_POD_SANDBOX; ev <= api.Event_REMOVE_CONTAINER; ev++ {
		m.Set(ev)
	}
	return m
}()

// Registration is one Wasm plugin registered with the runtime under its own
// name and index, so the runtime orders, merges and validates its
// adjustments as it does a native plugin's.
type Registration struct {
	spec   config.Plugin
	plugin *wasm.Plugin
	abi    *wasm.ABI
	log    *slog.Logger
	state  *state
	dial   func(context.Context) (net.Conn, error)
	once   bool // launched mode: one connection, no reconnect

	mu         sync.Mutex
	session    *session
	configure  *api.ConfigureRequest // what the guest was configured with; replayed into fresh instances
	subscribed api.EventMask         // events the guest asked for
	reqTimeout time.Duration         // the runtime's request timeout
	pending    *api.SynchronizeRequest
	onSynced   func()
}

// Name is the plugin's NRI name, "NN-name".
func (r *Registration) Name() string { return r.spec.Index + "-" + r.spec.Name }

// Plugin is the Wasm side of the registration.
func (r *Registration) Plugin() *wasm.Plugin { return r.plugin }

// run keeps the plugin registered until ctx is done: it connects, serves the
// runtime, and after the connection is lost reconnects with backoff and a
// fresh instance, so a restarted runtime gets the plugin back without the
// process restarting.
func (r *Registration) run(ctx context.Context) error {
	var backoff time.Duration
	var lastErr string
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			// The previous runtime's view and the guest's memory of it are
			// stale: the runtime configures and synchronizes anew.
			r.reset(ctx)
		}
		err := r.serveOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if r.once {
			return err
		}
		if err == nil {
			r.log.Warn("runtime connection lost; reconnecting")
			backoff, lastErr = 0, ""
		} else if msg := err.Error(); msg != lastErr {
			// One line per change of state, not one per retry.
			r.log.Warn("cannot register with the runtime; retrying", "error", err)
			lastErr = msg
		}
		backoff = min(max(2*backoff, 50*time.Millisecond), time.Second)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
	}
}

// serveOnce registers over one connection and serves it until it is lost
// (nil) or cannot be set up (an error).
func (r *Registration) serveOnce(ctx context.Context) error {
	conn, err := r.dial(ctx)
	if err != nil {
		return err
	}
	s, err := openSession(ctx, conn, service{r}, r.spec.Name, r.spec.Index, registrationTimeout)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.session = s
	r.mu.Unlock()
	r.log.Info("registered with the runtime")
	defer s.close()
	select {
	case <-s.done:
	case <-ctx.Done():
	}
	return nil
}

// registrationTimeout bounds RegisterPlugin; runtimes wait 5 s by default.
const registrationTimeout = 5 * time.Second

func (r *Registration) reset(ctx context.Context) {
	r.mu.Lock()
	r.session, r.configure, r.subscribed, r.pending = nil, nil, 0, nil
	r.mu.Unlock()
	r.state.reset(nil, nil)
	if err := r.plugin.Reset(ctx); err != nil {
		r.log.Warn("cannot reset the plugin instance", "error", err)
	}
}

// callContext bounds one guest call: the plugin's timeout, capped below the
// runtime's request timeout and below the caller's own deadline, so the
// runtime always gets an answer before it gives up on the plugin.
func (r *Registration) callContext(ctx context.Context) (context.Context, context.CancelFunc) {
	d := r.spec.Timeout
	r.mu.Lock()
	if rt := r.reqTimeout; rt > 0 {
		d = min(d, withMargin(rt))
	}
	r.mu.Unlock()
	if dl, ok := ctx.Deadline(); ok {
		d = min(d, withMargin(time.Until(dl)))
	}
	return context.WithTimeout(ctx, d)
}

// withMargin is what is left of a runtime's deadline d for the guest: the
// rest covers stopping a guest that overran, the reply and a loaded machine.
// It is 250 ms for containerd's default 2 s, and never more than a quarter.
func withMargin(d time.Duration) time.Duration {
	return d - max(d/10, min(d/4, 250*time.Millisecond))
}

// invoke runs one guest entry point under callContext.
func (r *Registration) invoke(ctx context.Context, e wasm.Export, req, resp wasm.Message) error {
	ctx, cancel := r.callContext(ctx)
	defer cancel()
	return r.plugin.Call(ctx, e, req, resp)
}

// failed applies on_error to a failed guest call: with "ignore" the runtime
// gets an empty reply and proceeds, with "fail" it gets the error. Both are
// logged with the reason.
func (r *Registration) failed(what string, err error) error {
	if r.spec.OnError == config.Ignore {
		r.log.Warn("plugin failed; replying empty (on_error = ignore)", "request", what, "error", err)
		return nil
	}
	r.log.Error("plugin failed; failing the request (on_error = fail)", "request", what, "error", err)
	return fmt.Errorf("nriwasm plugin %s: %s: %w", r.Name(), what, err)
}

// message is a request or response of the NRI API.
type message interface {
	wasm.Message
	Reset()
}

// relay hands one lifecycle event to the guest if it subscribed to it, by
// its dedicated export or through plugin_state_change for older guests, and
// records what the event says about the runtime's state. resp is returned
// empty when the guest did not answer.
func relay[Resp message](ctx context.Context, r *Registration, ev api.Event, pod *api.PodSandbox, ctr *api.Container, req wasm.Message, resp Resp) (Resp, error) {
	var err error
	if r.wants(ev) {
		err = r.deliver(ctx, ev, pod, ctr, req, resp)
		if err != nil {
			resp.Reset()
			err = r.failed(ev.PrettyName(), err)
		}
	}
	// A container whose creation this plugin failed does not come to exist.
	if err == nil || ev != api.Event_CREATE_CONTAINER {
		r.state.observe(ev, pod, ctr)
	}
	return resp, err
}

func (r *Registration) deliver(ctx context.Context, ev api.Event, pod *api.PodSandbox, ctr *api.Container, req, resp wasm.Message) error {
	e, viaStateChange, ok := r.abi.Route(ev)
	if !ok {
		return nil
	}
	if viaStateChange {
		return r.invoke(ctx, e, &api.StateChangeEvent{Event: ev, Pod: pod, Container: ctr}, &api.Empty{})
	}
	return r.invoke(ctx, e, req, resp)
}

func (r *Registration) wants(ev api.Event) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.subscribed.IsSet(ev)
}

// configure handles the runtime's Configure: the guest is configured with
// the runtime's request, carrying the plugin's config unless the runtime
// brought one (launched mode, from its plugin_config_path). A guest that
// fails Configure fails the registration whatever on_error says: there is
// no meaningful empty reply.
func (r *Registration) configureGuest(ctx context.Context, req *api.ConfigureRequest) (*api.ConfigureResponse, error) {
	guestReq := proto.Clone(req).(*api.ConfigureRequest)
	if guestReq.Config == "" {
		guestReq.Config = r.spec.Config
	}
	r.mu.Lock()
	r.reqTimeout = time.Duration(req.RequestTimeout) * time.Millisecond
	r.mu.Unlock()
	resp := &api.ConfigureResponse{}
	if r.abi.Has(wasm.Configure) {
		if err := r.invoke(ctx, wasm.Configure, guestReq, resp); err != nil {
			r.log.Error("plugin Configure failed", "error", err)
			return nil, fmt.Errorf("nriwasm plugin %s: Configure: %w", r.Name(), err)
		}
	}
	mask := r.guestEvents(api.EventMask(resp.Events), req)
	r.mu.Lock()
	r.configure, r.subscribed, r.pending = guestReq, mask, nil
	r.mu.Unlock()
	r.log.Info("configured", "runtime", req.RuntimeName+" "+req.RuntimeVersion, "events", mask.PrettyString())
	resp.Events = int32(mask | trackedEvents)
	return resp, nil
}

// guestEvents turns the guest's Configure mask into the events it is sent.
// Mask 0 means every event, as for a native plugin: every event the module
// handles. Events the module cannot handle, or the runtime does not know,
// are dropped with a warning: an older runtime refuses the whole
// subscription otherwise.
func (r *Registration) guestEvents(mask api.EventMask, req *api.ConfigureRequest) api.EventMask {
	if mask == 0 {
		mask = r.abi.Events
	}
	drop := func(keep api.EventMask, why string) {
		if extra := mask &^ keep; extra != 0 {
			r.log.Warn("not subscribing the plugin to events "+why, "events", extra.PrettyString())
			mask &= keep
		}
	}
	drop(r.abi.Events, "it does not export")
	drop(runtimeEvents(req), "the runtime does not know")
	return mask
}

// runtimeEvents is what the runtime can subscribe a plugin to. NRI v0.10
// added UpdatePodSandbox, PostUpdatePodSandbox and
// ValidateContainerAdjustment to the eleven events before; only v0.12 and
// later report their version, older runtimes are known by name and version.
func runtimeEvents(req *api.ConfigureRequest) api.EventMask {
	if req.NRIVersion != "" {
		return api.ValidEvents
	}
	// An unknown runtime or version ("unknown") does not scan: the old set.
	v, _ := api.InferVersionFromRuntime(req.RuntimeName, req.RuntimeVersion)
	var major, minor int
	if _, err := fmt.Sscanf(v, "v%d.%d", &major, &minor); err == nil && (major > 0 || minor >= 10) {
		return api.ValidEvents
	}
	return trackedEvents
}

// synchronize collects a split Synchronize (the runtime sends large states
// in chunks marked More) and hands the guest the whole state at once, as
// pkg/stub does: every guest handles one message, not every guest handles
// chunks.
func (r *Registration) synchronize(ctx context.Context, req *api.SynchronizeRequest) (*api.SynchronizeResponse, error) {
	r.mu.Lock()
	all := r.pending
	if all == nil {
		all = &api.SynchronizeRequest{}
	}
	all.Pods = append(all.Pods, req.Pods...)
	all.Containers = append(all.Containers, req.Containers...)
	r.pending = nil
	if req.More {
		r.pending = all
	}
	onSynced := r.onSynced
	r.mu.Unlock()
	if req.More {
		return &api.SynchronizeResponse{More: true}, nil
	}
	r.state.reset(all.Pods, all.Containers)
	resp := &api.SynchronizeResponse{}
	if r.abi.Has(wasm.Synchronize) {
		if err := r.invoke(ctx, wasm.Synchronize, all, resp); err != nil {
			resp.Reset()
			if err = r.failed("Synchronize", err); err != nil {
				return nil, err
			}
		}
	}
	r.log.Info("synchronized", "pods", len(all.Pods), "containers", len(all.Containers))
	if onSynced != nil {
		onSynced()
	}
	return resp, nil
}

// prepare readies a fresh instance that replaces a failed one: it is
// configured as its predecessor was and synchronized with the state the
// registration tracked, so it serves the next event as if nothing happened.
// Before the runtime's first Configure there is nothing to replay.
func (r *Registration) prepare(ctx context.Context, in *wasm.Instance) error {
	r.mu.Lock()
	cfg := r.configure
	r.mu.Unlock()
	if cfg == nil {
		return nil
	}
	call := func(e wasm.Export, req, resp wasm.Message) error {
		if !r.abi.Has(e) {
			return nil
		}
		ctx, cancel := r.callContext(ctx)
		defer cancel()
		return in.Call(ctx, e, req, resp)
	}
	var cresp api.ConfigureResponse
	if err := call(wasm.Configure, cfg, &cresp); err != nil {
		return fmt.Errorf("replaying Configure: %w", err)
	}
	pods, ctrs := r.state.snapshot()
	var sresp api.SynchronizeResponse
	if err := call(wasm.Synchronize, &api.SynchronizeRequest{Pods: pods, Containers: ctrs}, &sresp); err != nil {
		return fmt.Errorf("replaying Synchronize: %w", err)
	}
	r.log.Info("fresh instance configured and synchronized", "pods", len(pods), "containers", len(ctrs))
	if len(sresp.Update) > 0 {
		// Not from here: the runtime may be waiting on this plugin, and
		// UpdateContainers waits on the runtime (containerd/nri#301).
		go r.updateContainers(sresp.Update)
	}
	return nil
}

// updateContainers sends a replayed Synchronize's updates to the runtime as
// unsolicited updates.
func (r *Registration) updateContainers(updates []*api.ContainerUpdate) {
	r.mu.Lock()
	s := r.session
	r.mu.Unlock()
	if s == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.spec.Timeout)
	defer cancel()
	resp, err := s.runtime.UpdateContainers(ctx, &api.UpdateContainersRequest{Update: updates})
	if err == nil && len(resp.GetFailed()) > 0 {
		err = fmt.Errorf("%d of %d updates failed", len(resp.GetFailed()), len(updates))
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		r.log.Warn("applying the updates of a replayed Synchronize", "error", err)
	}
}
