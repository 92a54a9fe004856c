;; bad_version.wat is a test guest (not shipped) that speaks a plugin API
;; version the host does not: 2.
(module
  (memory (export "memory") 1)
  (func (export "_initialize"))
  (func (export "plugin_api_version") (result i64) (i64.const 2))
  (func (export "malloc") (param i32) (result i32) (i32.const 1024))
  (func (export "free") (param i32))
  (func (export "plugin_configure") (param i32 i32) (result i64) (i64.const 0)))
