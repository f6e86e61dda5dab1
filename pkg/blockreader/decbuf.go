package blockreader

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
)

// castagnoli is the CRC32C table every checksum of index.tsdb and symdb uses.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Errors a decbuf records. They are wrapped by the decoder that knows what
// was being read.
var (
	errShortData = errors.New("unexpected end of data")
	errVarint    = errors.New("varint overflows 64 bits")
)

// decbuf is a read cursor over a byte slice that remembers its first error.
// Once an error is set every getter returns a zero value and leaves the
// cursor where it is, so a decoder can read a whole record and check err
// once at the end instead of after every field.
//
// NOTE: a decbuf never reads outside b and never allocates; lengths read from
// the data are checked against the bytes that remain before they are used.
type decbuf struct {
	b []byte
	e error
}

// err returns the first error met, or nil.
func (d *decbuf) err() error { return d.e }

// len returns the number of bytes not yet consumed.
func (d *decbuf) len() int { return len(d.b) }

// fail records err unless an earlier error is already recorded.
func (d *decbuf) fail(err error) {
	if d.e == nil {
		d.e = err
	}
}

func (d *decbuf) be32() uint32 {
	if d.e != nil {
		return 0
	}
	if len(d.b) < 4 {
		d.e = errShortData
		return 0
	}
	v := binary.BigEndian.Uint32(d.b)
	d.b = d.b[4:]
	return v
}

func (d *decbuf) be64() uint64 {
	if d.e != nil {
		return 0
	}
	if len(d.b) < 8 {
		d.e = errShortData
		return 0
	}
	v := binary.BigEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

func (d *decbuf) uvarint() uint64 {
	// Most uvarints of an index (symbol refs, lengths) take one byte; this
	// path is small enough to be inlined.
	if d.e == nil && len(d.b) > 0 && d.b[0] < 0x80 {
		v := d.b[0]
		d.b = d.b[1:]
		return uint64(v)
	}
	return d.uvarintSlow()
}

func (d *decbuf) uvarintSlow() uint64 {
	if d.e != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	switch {
	case n == 0:
		d.e = errShortData
		return 0
	case n < 0:
		d.e = errVarint
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decbuf) varint() int64 {
	if d.e != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	switch {
	case n == 0:
		d.e = errShortData
		return 0
	case n < 0:
		d.e = errVarint
		return 0
	}
	d.b = d.b[n:]
	return v
}

// uvarintInt reads a uvarint that is used as a size, offset or index and so
// must fit an int.
func (d *decbuf) uvarintInt() int {
	v := d.uvarint()
	if v > math.MaxInt {
		d.fail(fmt.Errorf("value %d does not fit an int", v))
		return 0
	}
	return int(v)
}

// bytes returns the next n bytes, aliasing the underlying slice.
func (d *decbuf) bytes(n int) []byte {
	if d.e != nil {
		return nil
	}
	if n < 0 || n > len(d.b) {
		d.e = errShortData
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

// uvarintBytes reads a uvarint length and returns that many bytes (a
// "uvstr"), aliasing the underlying slice.
func (d *decbuf) uvarintBytes() []byte {
	n := d.uvarint()
	if d.e != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.e = fmt.Errorf("string of %d bytes runs past the %d bytes left: %w", n, len(d.b), errShortData)
		return nil
	}
	return d.bytes(int(n))
}

// count reads a BE32 number of entries and checks that that many entries of
// at least minEntrySize bytes each fit in what is left. This is what keeps a
// corrupt count from turning into a huge allocation.
func (d *decbuf) count(minEntrySize int) int {
	n := d.be32()
	if d.e != nil {
		return 0
	}
	if uint64(n)*uint64(minEntrySize) > uint64(len(d.b)) {
		d.e = fmt.Errorf("count %d does not fit in the %d bytes left", n, len(d.b))
		return 0
	}
	return int(n)
}

// readCRCSection returns the content of the CRC section that starts at off
// (BE32 length, content, BE32 CRC32C of the content) and the offset just past
// it. The whole section must lie in b[off:limit].
func readCRCSection(b []byte, off, limit int) (content []byte, next int, err error) {
	if off < 0 || limit > len(b) || off > limit || limit-off < 8 {
		return nil, 0, fmt.Errorf("section at offset %d does not fit before offset %d: %w", off, limit, errShortData)
	}
	n := binary.BigEndian.Uint32(b[off:])
	if uint64(n) > uint64(limit-off-8) {
		return nil, 0, fmt.Errorf("length %d at offset %d runs past offset %d: %w", n, off, limit, errShortData)
	}
	return checkCRC(b, off+4, int(n))
}

// readUvarintCRCSection is readCRCSection for sections whose length is a
// uvarint (series entries).
func readUvarintCRCSection(b []byte, off, limit int) (content []byte, next int, err error) {
	if off < 0 || limit > len(b) || off >= limit {
		return nil, 0, fmt.Errorf("section at offset %d does not fit before offset %d: %w", off, limit, errShortData)
	}
	n, w := binary.Uvarint(b[off:limit])
	if w <= 0 {
		return nil, 0, fmt.Errorf("bad length at offset %d: %w", off, errShortData)
	}
	if n > uint64(limit-off-w) || uint64(limit-off-w)-n < 4 {
		return nil, 0, fmt.Errorf("length %d at offset %d runs past offset %d: %w", n, off, limit, errShortData)
	}
	return checkCRC(b, off+w, int(n))
}

// checkCRC verifies the BE32 CRC32C that follows the n content bytes at
// start; the caller has checked that content and CRC lie inside b.
func checkCRC(b []byte, start, n int) (content []byte, next int, err error) {
	end := start + n
	content = b[start:end:end]
	want := binary.BigEndian.Uint32(b[end:])
	if got := crc32.Checksum(content, castagnoli); got != want {
		return nil, 0, fmt.Errorf("%w at offset %d: stored %08x, computed %08x", ErrChecksum, start, want, got)
	}
	return content, end + 4, nil
}
