// Package nri is the runtime side of nriwasm: it registers each Wasm plugin
// with the container runtime's NRI socket as a plugin of its own (its own
// connection, name and index), relays the runtime's requests to the plugin
// and the plugin's responses back unchanged, and keeps the plugin registered
// across runtime restarts.
//
// Every registration tracks the runtime's pods and containers from the
// Synchronize it received and the lifecycle events since. When a plugin's
// instance traps or overruns its deadline, the wasm package replaces it and
// the registration configures the fresh instance and synchronizes it from
// that state before it serves the next event, so no event after a failure
// is missed and the runtime never sees the plugin go away.
//
// Calls are bounded below the runtime's request timeout, and a failure is
// either returned to the runtime (on_error = "fail") or answered with an
// empty reply (on_error = "ignore").
package nri
