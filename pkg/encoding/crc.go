package encoding

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// ErrChecksum is a CRC32C mismatch.
var ErrChecksum = errors.New("bad CRC32C")

// castagnoli is the CRC32C table every checksum of index.tsdb and symdb uses.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// CRC32C returns the CRC32C (Castagnoli) checksum of b.
func CRC32C(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// ChecksumError reports that the CRC32C stored beside some bytes is not the
// one computed from them. It wraps ErrChecksum.
func ChecksumError(stored, computed uint32) error {
	return fmt.Errorf("%w: stored %08x, computed %08x", ErrChecksum, stored, computed)
}

// VerifyCRC32C checks that stored is the CRC32C of b.
func VerifyCRC32C(b []byte, stored uint32) error {
	if got := CRC32C(b); got != stored {
		return ChecksumError(stored, got)
	}
	return nil
}

// ReadCRCSection returns the content of the CRC section that starts at off
// (BE32 length, content, BE32 CRC32C of the content) and the offset just past
// it. The whole section must lie in b[off:limit]. The content aliases b.
func ReadCRCSection(b []byte, off, limit int) (content []byte, next int, err error) {
	if off < 0 || limit > len(b) || off > limit || limit-off < 8 {
		return nil, 0, fmt.Errorf("section at offset %d does not fit before offset %d: %w", off, limit, ErrShortData)
	}
	n := binary.BigEndian.Uint32(b[off:])
	if uint64(n) > uint64(limit-off-8) {
		return nil, 0, fmt.Errorf("length %d at offset %d runs past offset %d: %w", n, off, limit, ErrShortData)
	}
	return checkCRC(b, off+4, int(n))
}

// ReadUvarintCRCSection is ReadCRCSection for sections whose length is a
// uvarint (the series entries of index.tsdb).
func ReadUvarintCRCSection(b []byte, off, limit int) (content []byte, next int, err error) {
	if off < 0 || limit > len(b) || off >= limit {
		return nil, 0, fmt.Errorf("section at offset %d does not fit before offset %d: %w", off, limit, ErrShortData)
	}
	n, w := binary.Uvarint(b[off:limit])
	if w <= 0 {
		return nil, 0, fmt.Errorf("bad length at offset %d: %w", off, ErrShortData)
	}
	if n > uint64(limit-off-w) || uint64(limit-off-w)-n < 4 {
		return nil, 0, fmt.Errorf("length %d at offset %d runs past offset %d: %w", n, off, limit, ErrShortData)
	}
	return checkCRC(b, off+w, int(n))
}

// checkCRC verifies the BE32 CRC32C that follows the n content bytes at
// start; the caller has checked that content and CRC lie inside b.
func checkCRC(b []byte, start, n int) (content []byte, next int, err error) {
	end := start + n
	content = b[start:end:end]
	want := binary.BigEndian.Uint32(b[end:])
	if got := CRC32C(content); got != want {
		return nil, 0, fmt.Errorf("%w at offset %d: stored %08x, computed %08x", ErrChecksum, start, want, got)
	}
	return content, end + 4, nil
}
