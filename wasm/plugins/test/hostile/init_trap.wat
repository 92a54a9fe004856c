;; init_trap.wat is a test guest (not shipped): a reactor whose _initialize
;; traps. The host must refuse it at load.
(module
  (memory (export "memory") 1)
  (func (export "_initialize") (unreachable))
  (func (export "plugin_api_version") (result i64) (i64.const 1))
  (func (export "malloc") (param i32) (result i32) (i32.const 1024))
  (func (export "free") (param i32))
  (func (export "plugin_configure") (param i32 i32) (result i64) (i64.const 0)))
