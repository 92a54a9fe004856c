;; no_exports.wat is a test guest (not shipped): a valid module that exports
;; nothing at all.
(module (memory 1) (func $f))
