package wasm

import (
	"fmt"
	"strings"

	"github.com/containerd/nri/pkg/api"
	wapi "github.com/tetratelabs/wazero/api"
)

// Export names one plugin_* entry point of the NRI Wasm ABI.
type Export int

// The entry points, in the order of api.proto's Plugin service.
const (
	Configure Export = iota
	Synchronize
	Shutdown
	RunPodSandbox
	UpdatePodSandbox
	PostUpdatePodSandbox
	StopPodSandbox
	RemovePodSandbox
	CreateContainer
	PostCreateContainer
	StartContainer
	PostStartContainer
	UpdateContainer
	PostUpdateContainer
	StopContainer
	RemoveContainer
	StateChange
	ValidateContainerAdjustment
	numExports
)

var exports = [numExports]struct {
	name  string
	event api.Event // api.Event_UNKNOWN for non-events
}{
	Configure:                   {"plugin_configure", api.Event_UNKNOWN},
	Synchronize:                 {"plugin_synchronize", api.Event_UNKNOWN},
	Shutdown:                    {"plugin_shutdown", api.Event_UNKNOWN},
	RunPodSandbox:               {"plugin_run_pod_sandbox", api.Event_RUN_POD_SANDBOX},
	UpdatePodSandbox:            {"plugin_update_pod_sandbox", api.Event_UPDATE_POD_SANDBOX},
	PostUpdatePodSandbox:        {"plugin_post_update_pod_sandbox", api.Event_POST_UPDATE_POD_SANDBOX},
	StopPodSandbox:              {"plugin_stop_pod_sandbox", api.Event_STOP_POD_SANDBOX},
	RemovePodSandbox:            {"plugin_remove_pod_sandbox", api.Event_REMOVE_POD_SANDBOX},
	CreateContainer:             {"plugin_create_container", api.Event_CREATE_CONTAINER},
	PostCreateContainer:         {"plugin_post_create_container", api.Event_POST_CREATE_CONTAINER},
	StartContainer:              {"plugin_start_container", api.Event_START_CONTAINER},
	PostStartContainer:          {"plugin_post_start_container", api.Event_POST_START_CONTAINER},
	UpdateContainer:             {"plugin_update_container", api.Event_UPDATE_CONTAINER},
	PostUpdateContainer:         {"plugin_post_update_container", api.Event_POST_UPDATE_CONTAINER},
	StopContainer:               {"plugin_stop_container", api.Event_STOP_CONTAINER},
	RemoveContainer:             {"plugin_remove_container", api.Event_REMOVE_CONTAINER},
	StateChange:                 {"plugin_state_change", api.Event_UNKNOWN},
	ValidateContainerAdjustment: {"plugin_validate_container_adjustment", api.Event_VALIDATE_CONTAINER_ADJUSTMENT},
}

func (e Export) String() string { return exports[e].name }

// ExportFor returns the dedicated entry point of an event.
func ExportFor(ev api.Event) (Export, bool) {
	for e := range numExports {
		if exports[e].event == ev && ev != api.Event_UNKNOWN {
			return e, true
		}
	}
	return 0, false
}

// stateChangeEvents are the events runtimes before NRI v0.12 delivered through
// StateChange; guests built against those versions receive them there too.
var stateChangeEvents = func() (m api.EventMask) {
	m.Set(api.Event_RUN_POD_SANDBOX, api.Event_POST_UPDATE_POD_SANDBOX, api.Event_STOP_POD_SANDBOX,
		api.Event_REMOVE_POD_SANDBOX, api.Event_POST_CREATE_CONTAINER, api.Event_START_CONTAINER,
		api.Event_POST_START_CONTAINER, api.Event_POST_UPDATE_CONTAINER, api.Event_REMOVE_CONTAINER)
	return m
}()

// ABI describes what a module implements.
type ABI struct {
	// Generation is a human summary: "v0.12 per-event exports" or
	// "v0.10 state_change", followed by the start model.
	Generation string
	// Start is the start function run at instantiation ("_initialize" for
	// reactors, "_start" for command modules, "" for none).
	Start string
	// Events are the events the module can handle, directly or through
	// plugin_state_change.
	Events api.EventMask

	has [numExports]bool
}

// Has reports whether the module exports e.
func (a *ABI) Has(e Export) bool { return a.has[e] }

// Route returns how an event reaches the guest: its dedicated export, or
// plugin_state_change (viaStateChange) for older guests. ok is false when the
// guest does not handle the event.
func (a *ABI) Route(ev api.Event) (e Export, viaStateChange, ok bool) {
	if e, found := ExportFor(ev); found && a.has[e] {
		return e, false, true
	}
	if a.has[StateChange] && stateChangeEvents.IsSet(ev) {
		return StateChange, true, true
	}
	return 0, false, false
}

// EventNames lists the handled events, for reports.
func (a *ABI) EventNames() []string {
	var names []string
	for ev := api.Event_RUN_POD_SANDBOX; ev < api.Event_LAST; ev++ {
		if a.Events.IsSet(ev) {
			names = append(names, strings.ToLower(ev.String()))
		}
	}
	return names
}

var (
	sigHandler = signature{[]wapi.ValueType{wapi.ValueTypeI32, wapi.ValueTypeI32}, []wapi.ValueType{wapi.ValueTypeI64}}
	sigMalloc  = signature{[]wapi.ValueType{wapi.ValueTypeI32}, []wapi.ValueType{wapi.ValueTypeI32}}
	sigFree    = signature{[]wapi.ValueType{wapi.ValueTypeI32}, nil}
	// upstream's guests return i64; i32 is accepted for hand-written ones.
	sigVersion   = signature{nil, []wapi.ValueType{wapi.ValueTypeI64}}
	sigVersion32 = signature{nil, []wapi.ValueType{wapi.ValueTypeI32}}
)

type signature struct{ params, results []wapi.ValueType }

func (s signature) matches(d wapi.FunctionDefinition) bool {
	return string(d.ParamTypes()) == string(s.params) && string(d.ResultTypes()) == string(s.results)
}

func (s signature) String() string {
	return fmt.Sprintf("(%s) -> (%s)", types(s.params), types(s.results))
}

func types(ts []wapi.ValueType) string {
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = wapi.ValueTypeName(t)
	}
	return strings.Join(names, ", ")
}

// detectABI checks the exports and imports of a compiled module.
func detectABI(exported map[string]wapi.FunctionDefinition, imported []wapi.FunctionDefinition) (ABI, error) {
	var a ABI
	check := func(name string, sig signature, required bool) (bool, error) {
		d, ok := exported[name]
		switch {
		case !ok && required:
			return false, fmt.Errorf("%w: %s is not exported", ErrABI, name)
		case !ok:
			return false, nil
		case !sig.matches(d):
			return false, fmt.Errorf("%w: %s has signature (%s) -> (%s), want %s",
				ErrABI, name, types(d.ParamTypes()), types(d.ResultTypes()), sig)
		}
		return true, nil
	}
	if d, ok := exported["plugin_api_version"]; !ok || !sigVersion32.matches(d) {
		if _, err := check("plugin_api_version", sigVersion, true); err != nil {
			return a, err
		}
	}
	perEvent := false
	for e := range numExports {
		ok, err := check(exports[e].name, sigHandler, false)
		if err != nil {
			return a, err
		}
		a.has[e] = ok
		if ok && exports[e].event != api.Event_UNKNOWN {
			a.Events.Set(exports[e].event)
			perEvent = perEvent || stateChangeEvents.IsSet(exports[e].event)
		}
	}
	if a.has[StateChange] {
		a.Events |= stateChangeEvents
	}
	if a.Events == 0 && !a.has[Configure] && !a.has[Synchronize] {
		return a, fmt.Errorf("%w: exports no plugin_* event handlers", ErrABI)
	}
	for _, f := range []struct {
		name string
		sig  signature
	}{{"malloc", sigMalloc}, {"free", sigFree}} {
		if _, err := check(f.name, f.sig, true); err != nil {
			return a, err
		}
	}
	for _, imp := range imported {
		mod, name, _ := imp.Import()
		if mod == "wasi_snapshot_preview1" || (mod == "env" && name == "log") {
			continue
		}
		return a, fmt.Errorf("%w: imports %s.%s; nriwasm provides only env.log and wasi_snapshot_preview1", ErrABI, mod, name)
	}
	switch {
	case exported["_initialize"] != nil:
		a.Start = "_initialize"
	case exported["_start"] != nil:
		a.Start = "_start"
	}
	switch {
	// v0.12 guests export plugin_state_change too, but only they export
	// the events it carried; without it, any event export is per-event.
	case perEvent || a.Events != 0 && !a.has[StateChange]:
		a.Generation = "v0.12 per-event exports"
	case a.has[StateChange]:
		a.Generation = "v0.10 state_change"
	default:
		a.Generation = "requests only"
	}
	switch a.Start {
	case "_initialize":
		a.Generation += ", reactor"
	case "_start":
		a.Generation += ", command (_start)"
	}
	return a, nil
}
