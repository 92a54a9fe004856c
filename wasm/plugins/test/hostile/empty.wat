;; empty.wat is a test guest (not shipped): the smallest module that loads as
;; an NRI plugin. It handles Configure only and has no data section, so a
;; test can append one (the huge data segment case).
(module
  (memory (export "memory") 1)
  (func (export "_initialize"))
  (func (export "plugin_api_version") (result i64) (i64.const 1))
  (func (export "malloc") (param i32) (result i32) (i32.const 1024))
  (func (export "free") (param i32))
  (func (export "plugin_configure") (param i32 i32) (result i64) (i64.const 0)))
