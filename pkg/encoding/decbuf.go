package encoding

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Errors a Decbuf records. They are wrapped by the decoder that knows what
// was being read.
var (
	// ErrShortData is recorded when the data ends before the value does.
	ErrShortData = errors.New("unexpected end of data")
	// ErrVarint is recorded for a varint of more than 64 bits.
	ErrVarint = errors.New("varint overflows 64 bits")
)

// Decbuf is a read cursor over a byte slice that remembers its first error.
// Once an error is set every getter returns a zero value and leaves the
// cursor where it is, so a decoder can read a whole record and check Err
// once at the end instead of after every field. The zero value is an empty
// buffer; a Decbuf over b is Decbuf{B: b}.
//
// NOTE: a Decbuf never reads outside B and never allocates; lengths and
// counts read from the data are checked against the bytes that remain before
// they are used.
type Decbuf struct {
	B []byte // the bytes not yet consumed
	E error  // the first error met
}

// Err returns the first error met, or nil.
func (d *Decbuf) Err() error { return d.E }

// Len returns the number of bytes not yet consumed.
func (d *Decbuf) Len() int { return len(d.B) }

// Fail records err unless an earlier error is already recorded.
func (d *Decbuf) Fail(err error) {
	if d.E == nil {
		d.E = err
	}
}

// Byte reads one byte.
func (d *Decbuf) Byte() byte {
	if d.E != nil {
		return 0
	}
	if len(d.B) < 1 {
		d.E = ErrShortData
		return 0
	}
	v := d.B[0]
	d.B = d.B[1:]
	return v
}

// Be16 reads a big-endian uint16.
func (d *Decbuf) Be16() uint16 {
	if d.E != nil {
		return 0
	}
	if len(d.B) < 2 {
		d.E = ErrShortData
		return 0
	}
	v := binary.BigEndian.Uint16(d.B)
	d.B = d.B[2:]
	return v
}

// Be32 reads a big-endian uint32.
func (d *Decbuf) Be32() uint32 {
	if d.E != nil {
		return 0
	}
	if len(d.B) < 4 {
		d.E = ErrShortData
		return 0
	}
	v := binary.BigEndian.Uint32(d.B)
	d.B = d.B[4:]
	return v
}

// Be64 reads a big-endian uint64.
func (d *Decbuf) Be64() uint64 {
	if d.E != nil {
		return 0
	}
	if len(d.B) < 8 {
		d.E = ErrShortData
		return 0
	}
	v := binary.BigEndian.Uint64(d.B)
	d.B = d.B[8:]
	return v
}

// Uvarint64 reads an unsigned varint.
func (d *Decbuf) Uvarint64() uint64 {
	// Most uvarints of an index or a symbol table (symbol refs, lengths)
	// take one byte; this path is small enough to be inlined.
	if d.E == nil && len(d.B) > 0 && d.B[0] < 0x80 {
		v := d.B[0]
		d.B = d.B[1:]
		return uint64(v)
	}
	return d.uvarint64Slow()
}

func (d *Decbuf) uvarint64Slow() uint64 {
	if d.E != nil {
		return 0
	}
	v, n := binary.Uvarint(d.B)
	switch {
	case n == 0:
		d.E = ErrShortData
		return 0
	case n < 0:
		d.E = ErrVarint
		return 0
	}
	d.B = d.B[n:]
	return v
}

// Varint64 reads a zig-zag signed varint.
func (d *Decbuf) Varint64() int64 {
	if d.E != nil {
		return 0
	}
	v, n := binary.Varint(d.B)
	switch {
	case n == 0:
		d.E = ErrShortData
		return 0
	case n < 0:
		d.E = ErrVarint
		return 0
	}
	d.B = d.B[n:]
	return v
}

// Uvarint reads an unsigned varint that is used as a size, offset or index
// and so must fit an int.
func (d *Decbuf) Uvarint() int {
	v := d.Uvarint64()
	if v > math.MaxInt {
		d.Fail(fmt.Errorf("value %d does not fit an int", v))
		return 0
	}
	return int(v)
}

// Bytes returns the next n bytes, aliasing the underlying slice.
func (d *Decbuf) Bytes(n int) []byte {
	if d.E != nil {
		return nil
	}
	if n < 0 || n > len(d.B) {
		d.E = ErrShortData
		return nil
	}
	v := d.B[:n:n]
	d.B = d.B[n:]
	return v
}

// Skip consumes n bytes.
func (d *Decbuf) Skip(n int) { d.Bytes(n) }

// UvarintBytes reads a uvarint length and returns that many bytes (a
// "uvstr"), aliasing the underlying slice.
func (d *Decbuf) UvarintBytes() []byte {
	n := d.Uvarint64()
	if d.E != nil {
		return nil
	}
	if n > uint64(len(d.B)) {
		d.E = fmt.Errorf("string of %d bytes runs past the %d bytes left: %w", n, len(d.B), ErrShortData)
		return nil
	}
	return d.Bytes(int(n))
}

// Count reads a BE32 number of entries and checks that that many entries of
// at least minEntrySize bytes each fit in what is left. This is what keeps a
// corrupt count from turning into a huge allocation.
func (d *Decbuf) Count(minEntrySize int) int {
	n := d.Be32()
	if d.E != nil {
		return 0
	}
	if uint64(n)*uint64(minEntrySize) > uint64(len(d.B)) {
		d.E = fmt.Errorf("count %d does not fit in the %d bytes left", n, len(d.B))
		return 0
	}
	return int(n)
}
