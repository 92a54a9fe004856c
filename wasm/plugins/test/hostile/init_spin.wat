;; init_spin.wat is a test guest (not shipped): a reactor whose _initialize
;; never returns. The host must give up at its start timeout.
(module
  (memory (export "memory") 1)
  (func (export "_initialize") (loop $spin (br $spin)))
  (func (export "plugin_api_version") (result i64) (i64.const 1))
  (func (export "malloc") (param i32) (result i32) (i32.const 1024))
  (func (export "free") (param i32))
  (func (export "plugin_configure") (param i32 i32) (result i64) (i64.const 0)))
