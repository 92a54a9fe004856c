;; hostile.wat is a test guest (not shipped) that abuses the NRI Wasm ABI on
;; request, byte by byte, to prove that the host survives every way a guest
;; can break it and replaces the instance when it must.
;;
;; It subscribes to CreateContainer. A container annotation value
;; "hostile:X" (anywhere in the request) selects what X does:
;;
;;   L  loop forever                      R  recurse without bound
;;   G  memory.grow until it fails, then reply normally
;;   U  unreachable
;;   P  reply pointer outside memory      N  reply length outside memory
;;   E  error reply (bit 31) of garbage   H  reply claiming 100 MiB
;;   B  reply that is not protobuf        W  reply of the wrong message type
;;   X  env.log with bad pointers, then reply normally
;;   F  env.log 100000 times, then reply normally
;;   O  28 MiB to stdout (a 24 KiB line, then 32767 empty ones, 512 times),
;;      then reply normally
;;
;; Otherwise CreateContainer adds HOSTILE=1 to the environment, but only on an
;; instance that was configured and synchronized (an error reply otherwise):
;; a fresh instance that serves proves the host replayed both into it.
;;
;; Build: wat2wasm hostile.wat -o hostile.wasm
(module
  (import "env" "log" (func $log (param i32 i32) (result i64)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))

  ;; Page 0 holds constants and scratch space; malloc hands out page 1 onwards.
  (memory (export "memory") 2)

  ;; ConfigureResponse{events: 1<<(CREATE_CONTAINER-1)}: field 2 varint 8.
  (data (i32.const 16) "\10\08")
  ;; CreateContainerResponse{adjust: {env: [{key: "HOSTILE", value: "1"}]}}.
  (data (i32.const 32) "\0a\0e\22\0c\0a\07HOSTILE\12\011")
  (data (i32.const 64) "hostile: not configured and synchronized") ;; 40 bytes
  ;; Garbage for an error reply: an ANSI escape, NUL, invalid UTF-8, a
  ;; newline that would forge a log line, a bell. 33 bytes.
  (data (i32.const 128) "\1b[31mred\00\ff\fe\c0\0a\0dlevel=ERROR forged\07")
  ;; Not protobuf: a tag varint that never ends. 11 bytes.
  (data (i32.const 192) "\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\01")
  ;; LogRequest{msg: "flood"}. 7 bytes.
  (data (i32.const 256) "\0a\05flood")
  (data (i32.const 288) "hostile:")
  ;; Two iovecs for stdout: 24576 zero bytes at 8192, 32768 newlines at 32768.
  (data (i32.const 320) "\00\20\00\00\00\60\00\00\00\80\00\00\00\80\00\00")

  (global $configured (mut i32) (i32.const 0))
  (global $synchronized (mut i32) (i32.const 0))
  (global $heap (mut i32) (i32.const 65536))

  (func (export "_initialize"))
  (func (export "plugin_api_version") (result i64) (i64.const 1))

  ;; A bump allocator: the host reuses its request buffer, so nothing needs
  ;; to be freed.
  (func (export "malloc") (param $size i32) (result i32)
    (local $ptr i32)
    (local $end i32)
    (local.set $ptr (global.get $heap))
    (local.set $end (i32.add (local.get $ptr) (local.get $size)))
    (if (i32.gt_u (local.get $end) (i32.shl (memory.size) (i32.const 16)))
      (then
        (if (i32.eq
              (memory.grow
                (i32.sub (i32.shr_u (i32.add (local.get $end) (i32.const 0xffff)) (i32.const 16))
                         (memory.size)))
              (i32.const -1))
          (then (return (i32.const 0))))))
    (global.set $heap (i32.and (i32.add (local.get $end) (i32.const 7)) (i32.const -8)))
    (local.get $ptr))
  (func (export "free") (param i32))

  (func $pack (param $ptr i32) (param $len i32) (result i64)
    (i64.or (i64.shl (i64.extend_i32_u (local.get $ptr)) (i64.const 32))
            (i64.extend_i32_u (local.get $len))))

  (func (export "plugin_configure") (param i32 i32) (result i64)
    (global.set $configured (i32.const 1))
    (call $pack (i32.const 16) (i32.const 2)))

  (func (export "plugin_synchronize") (param i32 i32) (result i64)
    (global.set $synchronized (i32.const 1))
    (i64.const 0))

  ;; mode returns the byte after "hostile:" in [ptr, ptr+len), or 0.
  (func $mode (param $ptr i32) (param $len i32) (result i32)
    (local $end i32)
    (local.set $end (i32.sub (i32.add (local.get $ptr) (local.get $len)) (i32.const 8)))
    (block $done
      (loop $scan
        (br_if $done (i32.ge_s (local.get $ptr) (local.get $end)))
        (if (i64.eq (i64.load (local.get $ptr)) (i64.load (i32.const 288)))
          (then (return (i32.load8_u offset=8 (local.get $ptr)))))
        (local.set $ptr (i32.add (local.get $ptr) (i32.const 1)))
        (br $scan)))
    (i32.const 0))

  (func $recurse (param $n i32) (result i32)
    (i32.add (call $recurse (i32.add (local.get $n) (i32.const 1))) (i32.const 1)))

  (func $stdout
    (local $round i32)
    (memory.fill (i32.const 32768) (i32.const 10) (i32.const 32768))
    (loop $write
      (drop (call $fd_write (i32.const 1) (i32.const 320) (i32.const 2) (i32.const 336)))
      (local.set $round (i32.add (local.get $round) (i32.const 1)))
      (br_if $write (i32.lt_u (local.get $round) (i32.const 512)))))

  (func (export "plugin_create_container") (param $ptr i32) (param $len i32) (result i64)
    (local $m i32)
    (local $i i32)
    (local.set $m (call $mode (local.get $ptr) (local.get $len)))
    ;; L: loop forever
    (if (i32.eq (local.get $m) (i32.const 0x4c)) (then (loop $spin (br $spin))))
    ;; R: recurse without bound
    (if (i32.eq (local.get $m) (i32.const 0x52)) (then (drop (call $recurse (i32.const 0)))))
    ;; G: grow 1 MiB at a time until refused
    (if (i32.eq (local.get $m) (i32.const 0x47))
      (then
        (loop $grow
          (br_if $grow (i32.ne (memory.grow (i32.const 16)) (i32.const -1))))))
    ;; U: unreachable
    (if (i32.eq (local.get $m) (i32.const 0x55)) (then (unreachable)))
    ;; P: a reply pointer near the end of the 32-bit address space
    (if (i32.eq (local.get $m) (i32.const 0x50))
      (then (return (call $pack (i32.const 0xfffff000) (i32.const 16)))))
    ;; N: a reply length just under 16 MiB, past the end of memory
    (if (i32.eq (local.get $m) (i32.const 0x4e))
      (then (return (call $pack (i32.const 16) (i32.const 0x00ffffff)))))
    ;; E: an error reply of garbage text
    (if (i32.eq (local.get $m) (i32.const 0x45))
      (then (return (call $pack (i32.const 128) (i32.or (i32.const 33) (i32.const 0x80000000))))))
    ;; H: a reply claiming 100 MiB
    (if (i32.eq (local.get $m) (i32.const 0x48))
      (then (return (call $pack (i32.const 16) (i32.const 0x06400000)))))
    ;; B: a reply that is not protobuf
    (if (i32.eq (local.get $m) (i32.const 0x42))
      (then (return (call $pack (i32.const 192) (i32.const 11)))))
    ;; W: a ConfigureResponse where a CreateContainerResponse belongs
    (if (i32.eq (local.get $m) (i32.const 0x57))
      (then (return (call $pack (i32.const 16) (i32.const 2)))))
    ;; X: env.log from outside memory, oversized, and not a LogRequest
    (if (i32.eq (local.get $m) (i32.const 0x58))
      (then
        (drop (call $log (i32.const 0xfffffff0) (i32.const 64)))
        (drop (call $log (i32.const 0) (i32.const 0x7fffffff)))
        (drop (call $log (i32.const 192) (i32.const 11)))))
    ;; F: env.log in a tight loop
    (if (i32.eq (local.get $m) (i32.const 0x46))
      (then
        (loop $flood
          (drop (call $log (i32.const 256) (i32.const 7)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $flood (i32.lt_u (local.get $i) (i32.const 100000))))))
    ;; O: megabytes on stdout
    (if (i32.eq (local.get $m) (i32.const 0x4f)) (then (call $stdout)))
    (if (i32.and (global.get $configured) (global.get $synchronized))
      (then (return (call $pack (i32.const 32) (i32.const 16)))))
    (call $pack (i32.const 64) (i32.or (i32.const 40) (i32.const 0x80000000)))))
