;; start_trap.wat is a test guest (not shipped) whose start section (which
;; wazero runs at instantiation, whatever the host asks) traps.
(module
  (memory (export "memory") 1)
  (func $start (unreachable))
  (start $start)
  (func (export "plugin_api_version") (result i64) (i64.const 1))
  (func (export "malloc") (param i32) (result i32) (i32.const 1024))
  (func (export "free") (param i32))
  (func (export "plugin_configure") (param i32 i32) (result i64) (i64.const 0)))
