package parquetguard

import (
	"errors"
	"fmt"

	"github.com/parquet-go/parquet-go/encoding/thrift"
)

// MaxDepth bounds the nesting of the thrift structures of a parquet file.
// The deepest real one (FileMetaData → RowGroup → ColumnChunk →
// ColumnMetaData → Statistics / LogicalType) nests about six deep.
const MaxDepth = 32

var (
	// ErrShort means that a structure, or a length or count inside it, runs
	// past the end of the bytes given. With more bytes it may be fine.
	ErrShort = errors.New("thrift structure runs past the end of its bytes")
	// ErrMalformed means that the bytes are not a compact-protocol struct
	// whatever follows them.
	ErrMalformed = errors.New("malformed thrift structure")
)

// Thrift compact protocol type codes (thrift's TCompactProtocol spec).
const (
	typeStop   = 0
	typeTrue   = 1
	typeFalse  = 2
	typeByte   = 3
	typeI16    = 4
	typeI32    = 5
	typeI64    = 6
	typeDouble = 7
	typeBinary = 8
	typeList   = 9
	typeSet    = 10
	typeMap    = 11
	typeStruct = 12
	typeUUID   = 13
)

// StructLen walks the compact-protocol struct at the start of b without
// decoding it and returns how many bytes it occupies. Its errors wrap
// ErrShort or ErrMalformed.
//
// NOTE: parquet-go's thrift decoder sizes lists, maps and binaries by the
// lengths it reads, before reading their content. Walking first guarantees
// that every such length is at most the number of bytes left, so decoding a
// struct that passed allocates memory proportional to len(b), whatever the
// bytes say; it also bounds the nesting depth to MaxDepth.
func StructLen(b []byte) (int, error) {
	w := walker{b: b}
	w.structure(0)
	if w.err != nil {
		return 0, w.err
	}
	return w.pos, nil
}

// Unmarshal checks the compact-protocol struct that fills b exactly and
// decodes it into v, a pointer to a parquet-go format structure. The decoded
// value may alias b. A panic of parquet-go's decoder is returned as an error
// wrapping ErrMalformed.
func Unmarshal(b []byte, v any) (err error) {
	n, err := StructLen(b)
	if err != nil {
		return err
	}
	if n != len(b) {
		return fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(b)-n)
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: decoder panicked: %v", ErrMalformed, r)
		}
	}()
	var p thrift.CompactProtocol
	return thrift.NewDecoder(p.NewReaderFromBytes(b)).Decode(v)
}

// walker is a cursor over compact-protocol bytes that remembers its first
// error, in the manner of encoding.Decbuf.
type walker struct {
	b   []byte
	pos int
	err error
}

func (w *walker) fail(err error) {
	if w.err == nil {
		w.err = err
	}
}

func (w *walker) byte() byte {
	if w.err != nil {
		return 0
	}
	if w.pos >= len(w.b) {
		w.fail(ErrShort)
		return 0
	}
	c := w.b[w.pos]
	w.pos++
	return c
}

func (w *walker) skip(n uint64) {
	if w.err != nil {
		return
	}
	if n > uint64(len(w.b)-w.pos) {
		w.fail(ErrShort)
		return
	}
	w.pos += int(n)
}

func (w *walker) uvarint() uint64 {
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
	w.fail(fmt.Errorf("%w: varint overflows 64 bits", ErrMalformed))
	return 0
}

// count reads a collection size and checks that every element can have at
// least minBytes bytes of its own.
func (w *walker) count(n uint64, minBytes uint64) uint64 {
	if w.err == nil && n > uint64(len(w.b)-w.pos)/minBytes {
		w.fail(ErrShort)
		return 0
	}
	return n
}

func (w *walker) structure(depth int) {
	if depth > MaxDepth {
		w.fail(fmt.Errorf("%w: nested deeper than %d", ErrMalformed, MaxDepth))
		return
	}
	for w.err == nil {
		h := w.byte()
		if h == typeStop {
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
func (w *walker) value(typ byte, depth int, inList bool) {
	switch typ {
	case typeTrue, typeFalse:
		if inList {
			w.byte()
		}
	case typeByte:
		w.byte()
	case typeI16, typeI32, typeI64:
		w.uvarint()
	case typeDouble:
		w.skip(8)
	case typeUUID: // 16 bytes; parquet-go skips it too
		w.skip(16)
	case typeBinary:
		w.skip(w.uvarint())
	case typeList, typeSet:
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
	case typeMap:
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
	case typeStruct:
		w.structure(depth + 1)
	default:
		w.fail(fmt.Errorf("%w: unknown type code %d", ErrMalformed, typ))
	}
}

func (w *walker) element(typ byte, depth int) {
	if depth > MaxDepth {
		w.fail(fmt.Errorf("%w: nested deeper than %d", ErrMalformed, MaxDepth))
		return
	}
	w.value(typ, depth, true)
}
