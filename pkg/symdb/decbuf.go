package symdb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// castagnoli is the CRC32C table every symdb checksum uses.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errShortData is recorded by a decbuf that runs out of bytes. Decoders wrap
// it with what they were reading.
var errShortData = errors.New("unexpected end of data")

// decbuf is a read cursor over a byte slice that remembers its first error.
// Once an error is set every getter returns a zero value and leaves the
// cursor where it is, so a decoder can read a whole record and check err
// once at the end instead of after every field.
//
// NOTE: a decbuf never reads outside b and never allocates; counts read from
// the data are checked against the bytes that remain before they are used.
type decbuf struct {
	b []byte
	e error
}

// err returns the first error met, or nil.
func (d *decbuf) err() error { return d.e }

// len returns the number of bytes not yet consumed.
func (d *decbuf) len() int { return len(d.b) }

func (d *decbuf) be16() uint16 {
	if d.e != nil {
		return 0
	}
	if len(d.b) < 2 {
		d.e = errShortData
		return 0
	}
	v := binary.BigEndian.Uint16(d.b)
	d.b = d.b[2:]
	return v
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

func (d *decbuf) byte() byte {
	if d.e != nil {
		return 0
	}
	if len(d.b) < 1 {
		d.e = errShortData
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

// errVarint is recorded for a varint of more than 64 bits.
var errVarint = errors.New("varint overflows 64 bits")

func (d *decbuf) uvarint() uint64 {
	if d.e != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.e = errShortData
		if n < 0 {
			d.e = errVarint
		}
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
	if n <= 0 {
		d.e = errShortData
		if n < 0 {
			d.e = errVarint
		}
		return 0
	}
	d.b = d.b[n:]
	return v
}

// skip consumes n bytes.
func (d *decbuf) skip(n int) { d.bytes(n) }

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

// checksumError reports a CRC32C mismatch.
func checksumError(stored, computed uint32) error {
	return fmt.Errorf("%w: stored %08x, computed %08x", ErrChecksum, stored, computed)
}

// verifyCRC checks that crc is the CRC32C of b.
func verifyCRC(b []byte, crc uint32) error {
	if got := crc32.Checksum(b, castagnoli); got != crc {
		return checksumError(crc, got)
	}
	return nil
}
