// Package wasm hosts containerd/nri WebAssembly plugins under wazero, for
// low-memory nodes.
//
// A [Module] is one plugin file compiled once (through an on-disk compilation
// cache where the engine supports it) in its own wazero runtime, with its
// linear memory capped. A [Plugin] owns the module's current [Instance]: it
// serializes calls (an instance is not goroutine-safe), runs each call under a
// deadline, and discards the instance after any trap, deadline or ABI
// violation, so a poisoned instance is never called again. The next call gets
// a fresh instance, prepared by the caller's [Prepare] hook (nri/ replays
// Configure and Synchronize there) before it serves anything.
//
// The guest ABI is containerd/nri's, unchanged: protobuf requests written into
// guest memory obtained from the guest's malloc, results packed as
// ptr<<32|len with bit 31 of len marking an error string. Both the v0.12
// per-event exports and older modules that receive events through
// plugin_state_change are served; a missing export means the event is not
// handled.
package wasm
