package blockreader

import (
	"errors"
	"fmt"

	"github.com/parquet-go/parquet-go/encoding/thrift"
)

// maxThriftDepth bounds the nesting of the thrift structures of a parquet
// file. The deepest real one (FileMetaData → RowGroup → ColumnChunk →
// ColumnMetaData → Statistics / LogicalType) nests about six deep.
const maxThriftDepth = 32

// Thrift compact protocol type codes (thrift's TCompactProtocol spec).
const (
	thriftStop   = 0
	thriftTrue   = 1
	thriftFalse  = 2
	thriftByte   = 3
	thriftI16    = 4
	thriftI32    = 5
	thriftI64    = 6
	thriftDouble = 7
	thriftBinary = 8
	thriftList   = 9
	thriftSet    = 10
	thriftMap    = 11
	thriftStruct = 12
)

var (
	errThriftShort = errors.New("thrift structure runs past the end of its bytes")
	errThriftBad   = errors.New("malformed thrift structure")
)

// thriftStructLen walks the compact-protocol struct at the start of b
// without decoding it and returns how many bytes it occupies.
//
// NOTE: parquet-go's thrift decoder sizes lists, maps and binaries by the
// lengths it reads, before reading their content. Walking first guarantees
// that every such length is at most the number of bytes left, so decoding a
// struct that passed allocates memory proportional to len(b), whatever the
// bytes say; it also bounds the nesting depth.
func thriftStructLen(b []byte) (int, error) {
	w := thriftWalker{b: b}
	w.structure(0)
	if w.err != nil {
		return 0, w.err
	}
	return w.pos, nil
}

// decodeThrift checks and decodes the compact-protocol struct that fills b
// exactly into v. The decoded value may alias b.
func decodeThrift(b []byte, v any) (err error) {
	n, err := thriftStructLen(b)
	if err != nil {
		return err
	}
	if n != len(b) {
		return fmt.Errorf("%w: %d trailing bytes", errThriftBad, len(b)-n)
	}
	defer recoverMalformed(&err)
	var p thrift.CompactProtocol
	return thrift.NewDecoder(p.NewReaderFromBytes(b)).Decode(v)
}

// thriftWalker is a cursor over compact-protocol bytes that remembers its
// first error, in the manner of decbuf.
type thriftWalker struct {
	b   []byte
	pos int
	err error
}

func (w *thriftWalker) fail(err error) {
	if w.err == nil {
		w.err = err
	}
}

func (w *thriftWalker) byte() byte {
	if w.err != nil {
		return 0
	}
	if w.pos >= len(w.b) {
		w.fail(errThriftShort)
		return 0
	}
	c := w.b[w.pos]
	w.pos++
	return c
}

func (w *thriftWalker) skip(n uint64) {
	if w.err != nil {
		return
	}
	if n > uint64(len(w.b)-w.pos) {
		w.fail(errThriftShort)
		return
	}
	w.pos += int(n)
}

func (w *thriftWalker) uvarint() uint64 {
	var v uint64
	for shift := uint(0); shift < 64; shift += 7 {
		c := w.byte()
		if w.err != nil {
			return 0
		}
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return v
		}
	}
	w.fail(fmt.Errorf("%w: varint overflows 64 bits", errThriftBad))
	return 0
}

// count reads a collection size and checks that every element can have at
// least minBytes bytes of its own.
func (w *thriftWalker) count(n uint64, minBytes uint64) uint64 {
	if w.err == nil && n*minBytes > uint64(len(w.b)-w.pos) {
		w.fail(errThriftShort)
		return 0
	}
	return n
}

func (w *thriftWalker) structure(depth int) {
	if depth > maxThriftDepth {
		w.fail(fmt.Errorf("%w: nested deeper than %d", errThriftBad, maxThriftDepth))
		return
	}
	for w.err == nil {
		h := w.byte()
		if h == thriftStop {
			return
		}
		if h>>4 == 0 { // long form: the field id follows as a zig-zag varint
			w.uvarint()
		}
		w.value(h&0x0f, depth, false)
	}
}

// value skips one value of type typ. Booleans take no byte as struct fields
// (the type code holds them) and one byte as list elements.
func (w *thriftWalker) value(typ byte, depth int, inList bool) {
	switch typ {
	case thriftTrue, thriftFalse:
		if inList {
			w.byte()
		}
	case thriftByte:
		w.byte()
	case thriftI16, thriftI32, thriftI64:
		w.uvarint()
	case thriftDouble:
		w.skip(8)
	case thriftBinary:
		w.skip(w.uvarint())
	case thriftList, thriftSet:
		h := w.byte()
		n := uint64(h >> 4)
		if n == 15 {
			n = w.uvarint()
		}
		elem := h & 0x0f
		n = w.count(n, 1)
		for i := uint64(0); i < n && w.err == nil; i++ {
			w.element(elem, depth+1)
		}
	case thriftMap:
		n := w.uvarint()
		if n == 0 {
			return
		}
		kv := w.byte()
		n = w.count(n, 2)
		for i := uint64(0); i < n && w.err == nil; i++ {
			w.element(kv>>4, depth+1)
			w.element(kv&0x0f, depth+1)
		}
	case thriftStruct:
		w.structure(depth + 1)
	default:
		w.fail(fmt.Errorf("%w: unknown type code %d", errThriftBad, typ))
	}
}

func (w *thriftWalker) element(typ byte, depth int) {
	if depth > maxThriftDepth {
		w.fail(fmt.Errorf("%w: nested deeper than %d", errThriftBad, maxThriftDepth))
		return
	}
	w.value(typ, depth, true)
}
