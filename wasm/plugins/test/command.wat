;; command.wat is a test guest (not shipped): the NRI v0.12 Wasm ABI written by
;; hand, shaped like a TinyGo *command* module. It exports _start instead of
;; _initialize, and its _start returns normally (TinyGo's does not call
;; proc_exit), so the host must run _start once and keep the instance.
;;
;; Configure subscribes to CreateContainer; CreateContainer adds WAT=1 to the
;; container's environment. Both fail with an error string if _start has not
;; run. Replies are constant protobuf bytes in data segments (field numbers from
;; nri's pkg/api/api.proto); the host's free of them is a no-op.
;;
;; Build: wat2wasm command.wat -o command.wasm
(module
  (memory (export "memory") 1)

  ;; ConfigureResponse{events: 1<<(CREATE_CONTAINER-1)}: field 2 varint 8.
  (data (i32.const 16) "\10\08")
  ;; CreateContainerResponse{adjust: ContainerAdjustment{env: [KeyValue{key: "WAT", value: "1"}]}}:
  ;; field 1 (adjust) len 10 { field 4 (env) len 8 { field 1 "WAT", field 2 "1" } }.
  (data (i32.const 32) "\0a\0a\22\08\0a\03WAT\12\011")
  (data (i32.const 64) "command: _start has not run")

  (global $started (mut i32) (i32.const 0))
  ;; The bump allocator's next free byte, above the data segments.
  (global $heap (mut i32) (i32.const 1024))

  (func (export "_start")
    (global.set $started (i32.const 1)))

  (func (export "plugin_api_version") (result i64)
    (i64.const 1))

  ;; malloc hands out 8-byte aligned blocks, growing memory as needed; the host
  ;; reuses its request buffer, so nothing needs to be freed.
  (func (export "malloc") (param $size i32) (result i32)
    (local $ptr i32)
    (local $end i32)
    (local.set $ptr (i32.and (i32.add (global.get $heap) (i32.const 7)) (i32.const -8)))
    (local.set $end (i32.add (local.get $ptr) (local.get $size)))
    (if (i32.gt_u (local.get $end) (i32.shl (memory.size) (i32.const 16)))
      (then
        (if (i32.eq
              (memory.grow
                (i32.sub (i32.shr_u (i32.add (local.get $end) (i32.const 0xffff)) (i32.const 16))
                         (memory.size)))
              (i32.const -1))
          (then (return (i32.const 0))))))
    (global.set $heap (local.get $end))
    (local.get $ptr))

  (func (export "free") (param i32))

  ;; reply packs ptr<<32|len, or the error string if _start has not run.
  (func $reply (param $ptr i32) (param $len i32) (result i64)
    (if (i32.eqz (global.get $started))
      (then
        (local.set $ptr (i32.const 64))
        ;; the length of the string at 64, with bit 31 marking an error
        (local.set $len (i32.or (i32.const 27) (i32.const 0x80000000)))))
    (i64.or (i64.shl (i64.extend_i32_u (local.get $ptr)) (i64.const 32))
            (i64.extend_i32_u (local.get $len))))

  (func (export "plugin_configure") (param i32 i32) (result i64)
    (call $reply (i32.const 16) (i32.const 2)))

  (func (export "plugin_create_container") (param i32 i32) (result i64)
    (call $reply (i32.const 32) (i32.const 12))))
