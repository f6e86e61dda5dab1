// Package encoding decodes the big-endian, varint and CRC32C-checked
// building blocks that Cinder's binary formats (index.tsdb, symdb) are made
// of: Decbuf, a read cursor with a sticky error, and readers of
// CRC32C-checked sections.
//
// It owns the byte-level rules that every decoder of bucket bytes shares:
// never read outside the slice, never allocate for a length read from the
// data before checking it against the bytes left, and report a short read or
// a checksum mismatch as a sentinel error (ErrShortData, ErrVarint,
// ErrChecksum) that callers wrap with what they were reading.
//
// It must not know any file format: section names, record layouts and file
// names belong to the readers that import it (blockreader, symdb).
package encoding
