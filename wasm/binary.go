package wasm

import (
	"bytes"
	"fmt"
)

// wasmHeader is the magic number and version 1 that start every module.
var wasmHeader = []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}

// PageSize is the size of one page of WebAssembly linear memory.
const PageSize = 65536

// memoryDecl is the linear memory a module declares, in pages.
type memoryDecl struct {
	found    bool
	min, max uint32
	hasMax   bool
}

// scanMemory checks the header and reads the declared memory limits from the
// memory or import section, before wazero sees the module: a declared minimum
// above the limit must be reported with numbers rather than as a compile error.
func scanMemory(b []byte) (memoryDecl, error) {
	var d memoryDecl
	if len(b) < len(wasmHeader) || !bytes.Equal(b[:len(wasmHeader)], wasmHeader) {
		return d, fmt.Errorf("%w: missing \\0asm version 1 header", ErrNotWasm)
	}
	r := reader{b: b, off: len(wasmHeader)}
	for r.off < len(r.b) {
		id := r.byte()
		size := r.u32()
		if r.err != nil || uint64(size) > uint64(len(r.b)-r.off) {
			return d, fmt.Errorf("%w: truncated section at byte %d", ErrNotWasm, r.off)
		}
		sec := reader{b: r.b[r.off : r.off+int(size)]}
		r.off += int(size)
		switch id {
		case 2: // imports: an imported memory counts as declared
			for n := sec.u32(); n > 0 && sec.err == nil; n-- {
				sec.name()
				sec.name()
				switch kind := sec.byte(); kind {
				case 0:
					sec.u32()
				case 1:
					sec.byte()
					sec.limits()
				case 2:
					d = sec.limits()
				case 3:
					sec.byte()
					sec.byte()
				default:
					sec.err = fmt.Errorf("import kind %d", kind)
				}
			}
		case 5:
			if n := sec.u32(); n > 0 {
				d = sec.limits()
			}
		}
		if sec.err != nil {
			return d, fmt.Errorf("%w: malformed section %d: %v", ErrNotWasm, id, sec.err)
		}
	}
	return d, nil
}

type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) byte() byte {
	if r.err != nil || r.off >= len(r.b) {
		r.fail()
		return 0
	}
	c := r.b[r.off]
	r.off++
	return c
}

func (r *reader) fail() {
	if r.err == nil {
		r.err = fmt.Errorf("unexpected end at byte %d", r.off)
	}
}

// u32 reads an unsigned LEB128 value of at most 5 bytes.
func (r *reader) u32() uint32 {
	var v uint32
	for shift := 0; shift < 35; shift += 7 {
		c := r.byte()
		if r.err != nil {
			return 0
		}
		v |= uint32(c&0x7f) << shift
		if c&0x80 == 0 {
			return v
		}
	}
	r.err = fmt.Errorf("LEB128 overflow at byte %d", r.off)
	return 0
}

func (r *reader) name() {
	n := r.u32()
	if r.err == nil && uint64(n) > uint64(len(r.b)-r.off) {
		r.fail()
		return
	}
	r.off += int(n)
}

func (r *reader) limits() memoryDecl {
	flags := r.byte()
	d := memoryDecl{found: true, min: r.u32()}
	if flags&1 != 0 {
		d.max, d.hasMax = r.u32(), true
	}
	return d
}
