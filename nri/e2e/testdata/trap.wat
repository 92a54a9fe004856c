;; trap: the smallest NRI Wasm plugin (containerd/nri v0.12 ABI) that subscribes
;; to CreateContainer and traps in it, to prove on_error = "ignore" and "fail"
;; against a real runtime. Build: wat2wasm trap.wat -o trap.wasm
;;
;; Every handler takes (ptr, len) of a protobuf request and returns
;; ptr<<32 | len of the protobuf response; ptr 0, len 0 is an empty response.
(module
  (memory (export "memory") 2)

  ;; ConfigureResponse{events: 1<<(CREATE_CONTAINER-1)}: field 2, varint 8.
  (data (i32.const 16) "\10\08")

  (func (export "_initialize"))
  (func (export "plugin_api_version") (result i64) (i64.const 1))

  ;; Requests are copied in one at a time and freed after each call, so one
  ;; region at 64 KiB, grown to fit, serves every malloc.
  (func (export "malloc") (param $size i32) (result i32)
    (local $pages i32)
    (local.set $pages
      (i32.sub
        (i32.shr_u (i32.add (local.get $size) (i32.const 131071)) (i32.const 16))
        (memory.size)))
    (if (i32.gt_s (local.get $pages) (i32.const 0))
      (then (drop (memory.grow (local.get $pages)))))
    (i32.const 65536))
  (func (export "free") (param i32))

  (func (export "plugin_configure") (param i32 i32) (result i64)
    (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const 2)))
  (func (export "plugin_create_container") (param i32 i32) (result i64)
    unreachable)

  (func $empty (param i32 i32) (result i64) (i64.const 0))
  (export "plugin_synchronize" (func $empty))
  (export "plugin_shutdown" (func $empty))
  (export "plugin_run_pod_sandbox" (func $empty))
  (export "plugin_update_pod_sandbox" (func $empty))
  (export "plugin_post_update_pod_sandbox" (func $empty))
  (export "plugin_stop_pod_sandbox" (func $empty))
  (export "plugin_remove_pod_sandbox" (func $empty))
  (export "plugin_post_create_container" (func $empty))
  (export "plugin_start_container" (func $empty))
  (export "plugin_post_start_container" (func $empty))
  (export "plugin_update_container" (func $empty))
  (export "plugin_post_update_container" (func $empty))
  (export "plugin_stop_container" (func $empty))
  (export "plugin_remove_container" (func $empty))
  (export "plugin_state_change" (func $empty))
  (export "plugin_validate_container_adjustment" (func $empty))
)
