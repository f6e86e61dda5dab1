package symdb

import (
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"testing"
)

// format2Index returns the data section of a format 2 index with the given
// partitions, each with one chunk and one row range per table.
func format2Index(keys ...uint64) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(keys)))
	for _, k := range keys {
		b = binary.BigEndian.AppendUint64(b, k)
		for _, n := range []uint32{1, 1, 1, 1, 1} {
			b = binary.BigEndian.AppendUint32(b, n)
		}
		b = putChunkHeader(b, chunkHeader{offset: 0, size: 10, partition: k, encoding: 1, nodes: 4, maxNodes: 1 << 20})
		for range numTables {
			b = binary.BigEndian.AppendUint32(b, 0)
			b = binary.BigEndian.AppendUint32(b, uint32(k))
			b = binary.BigEndian.AppendUint32(b, 3)
		}
	}
	return b
}

func TestDecodeIndex(t *testing.T) {
	t.Run("format 1 groups consecutive chunks", func(t *testing.T) {
		var data []byte
		for i, k := range []uint64{7, 7, 3, 9, 9, 9} {
			data = putChunkHeader(data, chunkHeader{offset: uint64(i), partition: k, encoding: 1})
		}
		idx, err := decodeIndex(encodeIndex(Format1, data))
		if err != nil {
			t.Fatal(err)
		}
		var got []int
		for _, p := range idx.partitions {
			got = append(got, int(p.key), len(p.chunks))
		}
		if !slices.Equal(got, []int{7, 2, 3, 1, 9, 3}) || idx.byKey[9] != 2 {
			t.Errorf("partitions (key, chunks) %v", got)
		}
	})
	t.Run("format 2", func(t *testing.T) {
		idx, err := decodeIndex(encodeIndex(Format2, format2Index(5, 6)))
		if err != nil {
			t.Fatal(err)
		}
		if len(idx.partitions) != 2 || idx.partitions[1].ranges[tableStrings][0] != (rowRange{0, 6, 3}) || idx.partitions[1].chunks[0].nodes != 4 {
			t.Errorf("decoded %+v", idx.partitions)
		}
	})
	t.Run("old writers' header CRC is ignored", func(t *testing.T) {
		b := encodeIndex(Format2, format2Index(1))
		binary.BigEndian.PutUint32(b[12:], crc(b[:12]))
		binary.BigEndian.PutUint32(b[len(b)-4:], crc(b[:len(b)-4]))
		if _, err := decodeIndex(b); err != nil {
			t.Error(err)
		}
	})

	good := encodeIndex(Format2, format2Index(1, 2))
	cases := []struct {
		name string
		b    []byte
		want error
		msg  string
	}{
		{"too short", good[:20], nil, "shorter than"},
		{"bad CRC", flip(good, 40), ErrChecksum, "index: bad CRC32C"},
		{"bad magic", withCRC(flip(good, 0)), ErrMagic, "index header"},
		{"format 4", withCRC(setBE32(good, 4, 4)), ErrFormatVersion, "4"},
		{"format 0", withCRC(setBE32(good, 4, 0)), ErrFormatVersion, "0"},
		{"TOC past the end", withCRC(setBE64(good, 16, 1<<40)), nil, "does not fit"},
		{"TOC offset inside the header", withCRC(setBE64(good, 24, 8)), nil, "does not fit"},
		{"format 1 size", encodeIndex(Format1, make([]byte, 65)), nil, "whole number"},
		{"partition count", encodeIndex(Format2, setBE32(format2Index(1), 0, 1000)), nil, "count 1000"},
		{"duplicate partition", encodeIndex(Format2, format2Index(3, 3)), nil, "listed twice"},
		{"bytes left", encodeIndex(Format2, append(format2Index(3), 0)), nil, "1 bytes left"},
		{"row ranges past the end", encodeIndex(Format2, setBE32(format2Index(3), 16, 1<<20)), nil, "need"},
		{"format 3 chunk count", encodeIndex(Format3, setBE32(append(binary.BigEndian.AppendUint32(nil, 1), make([]byte, 12+4*32)...), 12, 5)), nil, "count 5"},
		{"format 1 non-consecutive", encodeIndex(Format1, putChunkHeader(putChunkHeader(putChunkHeader(nil, chunkHeader{partition: 1}), chunkHeader{partition: 2}), chunkHeader{partition: 1})), nil, "listed twice"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := decodeIndex(c.b)
			if err == nil || (c.want != nil && !errors.Is(err, c.want)) || !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %v, want %v / %q", err, c.want, c.msg)
			}
		})
	}
}

func TestDecodeFooter(t *testing.T) {
	good := encodeFooter(100)
	if off, err := decodeFooter(good, 200); err != nil || off != 100 {
		t.Fatalf("footer: %d, %v", off, err)
	}
	cases := []struct {
		name string
		b    []byte
		size int64
		want string
	}{
		{"short", good[:20], 200, "20 bytes"},
		{"CRC", flip(good, 9), 200, "bad CRC32C"},
		{"magic", footerWithCRC(flip(good, 1)), 200, "bad magic"},
		{"version", footerWithCRC(setBE32(good, 4, 2)), 200, "unsupported format version 2"},
		{"index past the footer", good, 120, "leaves no room"},
		{"index too small", good, 100 + footerSize + 10, "leaves no room"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := decodeFooter(c.b, c.size)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want %q", err, c.want)
			}
		})
	}
}

func flip(b []byte, i int) []byte {
	b = slices.Clone(b)
	b[i] ^= 0x40
	return b
}

func setBE32(b []byte, off int, v uint32) []byte {
	b = slices.Clone(b)
	binary.BigEndian.PutUint32(b[off:], v)
	return b
}

func setBE64(b []byte, off int, v uint64) []byte {
	b = slices.Clone(b)
	binary.BigEndian.PutUint64(b[off:], v)
	return b
}

// withCRC fixes the trailing CRC of an index.
func withCRC(b []byte) []byte {
	binary.BigEndian.PutUint32(b[len(b)-4:], crc(b[:len(b)-4]))
	return b
}

func footerWithCRC(b []byte) []byte {
	binary.BigEndian.PutUint32(b[20:], crc(b[:20]))
	return b
}
