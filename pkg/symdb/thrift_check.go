package symdb

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// parquet-go sizes the slices of a thrift list from the list header before
// it reads a single element, so a corrupt parquet footer or page header can
// make it allocate gigabytes. checkThriftStruct walks such a structure first
// and rejects lists that could not fit in the bytes that follow them; after
// that, decoding it allocates in proportion to its size.

// Thrift compact protocol types.
const (
	thriftStop   = 0
	thriftTrue   = 1
	thriftFalse  = 2
	thriftI8     = 3
	thriftI16    = 4
	thriftI32    = 5
	thriftI64    = 6
	thriftDouble = 7
	thriftBinary = 8
	thriftList   = 9
	thriftSet    = 10
	thriftMap    = 11
	thriftStruct = 12
	thriftUUID   = 13

	thriftMaxDepth = 32
)

var errThrift = errors.New("malformed thrift structure")

// checkThriftStruct checks the compact-protocol struct at the start of b and
// returns its length in bytes.
func checkThriftStruct(b []byte) (int, error) {
	n, err := skipThriftStruct(b, 0, 0)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", errThrift, err)
	}
	return n, nil
}

func skipThriftStruct(b []byte, pos, depth int) (int, error) {
	if depth > thriftMaxDepth {
		return 0, errors.New("nested too deep")
	}
	for {
		if pos >= len(b) {
			return 0, errShortData
		}
		h := b[pos]
		pos++
		typ := h & 0x0f
		if typ == thriftStop {
			return pos, nil
		}
		if h>>4 == 0 { // long form: the field ID follows
			var err error
			if pos, err = skipVarint(b, pos); err != nil {
				return 0, err
			}
		}
		if typ == thriftTrue || typ == thriftFalse {
			continue // a bool field carries its value in the type
		}
		var err error
		if pos, err = skipThriftValue(b, pos, typ, depth); err != nil {
			return 0, err
		}
	}
}

func skipThriftValue(b []byte, pos int, typ byte, depth int) (int, error) {
	switch typ {
	case thriftTrue, thriftFalse, thriftI8: // bools in lists take a byte
		return skipBytes(b, pos, 1)
	case thriftI16, thriftI32, thriftI64:
		return skipVarint(b, pos)
	case thriftDouble:
		return skipBytes(b, pos, 8)
	case thriftUUID:
		return skipBytes(b, pos, 16)
	case thriftBinary:
		n, p, err := readUvarintAt(b, pos)
		if err != nil {
			return 0, err
		}
		if n > uint64(len(b)-p) {
			return 0, fmt.Errorf("binary of %d bytes, %d left", n, len(b)-p)
		}
		return p + int(n), nil
	case thriftList, thriftSet:
		if pos >= len(b) {
			return 0, errShortData
		}
		h := b[pos]
		pos++
		size := uint64(h >> 4)
		if size == 15 {
			var err error
			if size, pos, err = readUvarintAt(b, pos); err != nil {
				return 0, err
			}
		}
		// Every element takes at least one byte.
		if size > uint64(len(b)-pos) {
			return 0, fmt.Errorf("list of %d elements, %d bytes left", size, len(b)-pos)
		}
		elem := h & 0x0f
		for i := uint64(0); i < size; i++ {
			var err error
			if pos, err = skipThriftValue(b, pos, elem, depth+1); err != nil {
				return 0, err
			}
		}
		return pos, nil
	case thriftMap:
		size, p, err := readUvarintAt(b, pos)
		if err != nil {
			return 0, err
		}
		pos = p
		if size == 0 {
			return pos, nil
		}
		if pos >= len(b) || size > uint64(len(b)-pos)/2 {
			return 0, fmt.Errorf("map of %d entries, %d bytes left", size, len(b)-pos)
		}
		kv := b[pos]
		pos++
		for i := uint64(0); i < size; i++ {
			if pos, err = skipThriftValue(b, pos, kv>>4, depth+1); err != nil {
				return 0, err
			}
			if pos, err = skipThriftValue(b, pos, kv&0x0f, depth+1); err != nil {
				return 0, err
			}
		}
		return pos, nil
	case thriftStruct:
		return skipThriftStruct(b, pos, depth+1)
	default:
		return 0, fmt.Errorf("unknown type %d", typ)
	}
}

func skipBytes(b []byte, pos, n int) (int, error) {
	if n > len(b)-pos {
		return 0, errShortData
	}
	return pos + n, nil
}

func skipVarint(b []byte, pos int) (int, error) {
	_, p, err := readUvarintAt(b, pos)
	return p, err
}

func readUvarintAt(b []byte, pos int) (uint64, int, error) {
	if pos > len(b) {
		return 0, 0, errShortData
	}
	v, n := binary.Uvarint(b[pos:])
	if n <= 0 {
		return 0, 0, errors.New("bad varint")
	}
	return v, pos + n, nil
}
