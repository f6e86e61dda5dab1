package symdb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/parquet-go/parquet-go/format"
)

// dictionaryStride is how many dictionary entries lie between two entries
// whose offsets a stringDictionary keeps: a load reads whole strides of
// the dictionary, 3.5 KB of them on the bench bucket.
const dictionaryStride = 64

// maxStrideGap is how many unwanted dictionary bytes a load reads to join
// two runs of strides into one read.
const maxStrideGap = 16 << 10

// stringDictionary is the layout of the String column chunk of one row
// group of strings.parquet: where the entries of its dictionary page lie,
// found once, and where its pages of entry numbers lie.
//
// NOTE: the partitions of a symdb format 2 block take their strings from
// row ranges of the same row group, whose column chunk has one dictionary
// page for all of them (block-format.md §7): most of the bytes of the file.
// A block keeps 4 bytes for every 64 entries of it, and a partition load
// reads the entry numbers of its rows and the strides of the dictionary
// that hold them, about its own strings' bytes, instead of a decoded
// dictionary that the Reader would have to keep for every later load.
type stringDictionary struct {
	// ok is false for a chunk laid out otherwise (compressed, not
	// dictionary-encoded, with nulls...): it is read through parquet-go.
	ok      bool
	entries int
	off     int64    // file offset of the first entry
	size    int64    // bytes of all entries
	strides []uint32 // offset from off of entry i·dictionaryStride
	pages   []dictionaryPage
}

// dictionaryPage is a data page of entry numbers: a bit width byte and
// RLE/bit-packed runs (parquet's RLE_DICTIONARY).
type dictionaryPage struct {
	firstRow int64 // in the row group
	rows     int64
	off      int64 // file offset of the bit width byte
	size     int64
}

// stringDictionary returns the dictionary layout of a row group's String
// column, reading its column chunk on first use.
func (pf *parquetFile) stringDictionary(ra io.ReaderAt, rowGroup uint32, col leafColumn) (*stringDictionary, error) {
	d, err := pf.dictionaries.get(rowGroup, func() (*stringDictionary, error) {
		return pf.readStringDictionary(ra, rowGroup, col)
	})
	if err != nil {
		return nil, fmt.Errorf("column %s: row group %d: %w", col.name, rowGroup, err)
	}
	return d, nil
}

func isDictionaryEncoding(e format.Encoding) bool {
	return e == format.RLEDictionary || e == format.PlainDictionary
}

func (pf *parquetFile) readStringDictionary(ra io.ReaderAt, rowGroup uint32, col leafColumn) (*stringDictionary, error) {
	groups := pf.file.Metadata().RowGroups
	if int(rowGroup) >= len(groups) || col.index >= len(groups[rowGroup].Columns) {
		return nil, fmt.Errorf("%w: row group %d has no column %d", ErrCorrupt, rowGroup, col.index)
	}
	d := &stringDictionary{}
	if col.repeated || col.maxDef != 0 || groups[rowGroup].Columns[col.index].MetaData.Codec != format.Uncompressed {
		return d, nil
	}
	laidOut, seenDict := true, false
	var dictOff, rows int64
	buf := pf.bufs.get()
	chunk, err := pf.readChunkPages(ra, int(rowGroup), col, buf, func(h *format.PageHeader, dataOff int) error {
		page := dictionaryPage{firstRow: rows, off: int64(dataOff), size: int64(h.CompressedPageSize)}
		switch {
		case !laidOut:
			return nil
		case h.DictionaryPageHeader.Valid:
			v := &h.DictionaryPageHeader.V
			// Every entry takes 4 bytes at least: a count beyond that is
			// not trusted to size anything.
			if seenDict || v.NumValues < 0 || int64(v.NumValues) > int64(h.CompressedPageSize)/4 ||
				(v.Encoding != format.Plain && v.Encoding != format.PlainDictionary) {
				laidOut = false
				return nil
			}
			seenDict = true
			d.entries = int(v.NumValues)
			dictOff, d.size = int64(dataOff), int64(h.CompressedPageSize)
			return nil
		case h.DataPageHeader.Valid && isDictionaryEncoding(h.DataPageHeader.V.Encoding):
			// A required, flat column stores no levels in a v1 page.
			page.rows = int64(h.DataPageHeader.V.NumValues)
		case h.DataPageHeaderV2.Valid && isDictionaryEncoding(h.DataPageHeaderV2.V.Encoding):
			v := &h.DataPageHeaderV2.V
			if v.NumNulls != 0 || v.NumRows != v.NumValues || v.RepetitionLevelsByteLength != 0 || v.DefinitionLevelsByteLength != 0 {
				laidOut = false
				return nil
			}
			page.rows = int64(v.NumValues)
		default: // other encodings, index pages
			laidOut = false
			return nil
		}
		if !seenDict {
			laidOut = false
			return nil
		}
		d.pages = append(d.pages, page)
		rows += page.rows
		return nil
	})
	defer func() { pf.giveBack(buf, chunk) }()
	if err != nil {
		return nil, err
	}
	if !laidOut || !seenDict || rows != groups[rowGroup].NumRows {
		return &stringDictionary{}, nil
	}
	// Only the offsets of every stride's first entry are kept.
	dict := chunk.data[dictOff : dictOff+d.size]
	d.strides = make([]uint32, 0, (d.entries+dictionaryStride-1)/dictionaryStride)
	pos := 0
	for i := range d.entries {
		if i%dictionaryStride == 0 {
			d.strides = append(d.strides, uint32(pos))
		}
		n, err := plainByteArrayAt(dict, pos)
		if err != nil {
			return nil, fmt.Errorf("%w: dictionary entry %d of %d: %v", ErrCorrupt, i, d.entries, err)
		}
		pos += 4 + n
	}
	d.ok, d.off, d.size = true, chunk.off+dictOff, int64(pos)
	for i := range d.pages {
		d.pages[i].off += chunk.off
	}
	d.pages = slices.Clip(d.pages)
	return d, nil
}

// plainByteArrayAt returns the length of the PLAIN byte array at b[pos:]:
// a 4-byte little-endian length and that many bytes, all inside b.
func plainByteArrayAt(b []byte, pos int) (int, error) {
	if len(b)-pos < 4 {
		return 0, fmt.Errorf("length at %d of %d bytes: %w", pos, len(b), io.ErrUnexpectedEOF)
	}
	n := binary.LittleEndian.Uint32(b[pos:])
	if uint64(n) > uint64(len(b)-pos-4) {
		return 0, fmt.Errorf("%d bytes at %d of %d", n, pos+4, len(b))
	}
	return int(n), nil
}

// strideEnd returns the offset from d.off of the end of stride s.
func (d *stringDictionary) strideEnd(s int) int64 {
	if s+1 < len(d.strides) {
		return int64(d.strides[s+1])
	}
	return d.size
}

// readDictionaryStrings is readStringTable for row groups laid out as
// stringDictionary expects. It reports false, having read no rows, when
// one of them is not. All strings alias one allocation of exactly their
// bytes, which is the partition's own: a partition does not pin what
// other partitions' strings need.
func (pf *parquetFile) readDictionaryStrings(ra io.ReaderAt, col leafColumn, ranges []rowRange, rows int) ([]string, bool, error) {
	dicts, err := rangeLayouts(ranges, func(rowGroup uint32) (*stringDictionary, bool, error) {
		d, err := pf.stringDictionary(ra, rowGroup, col)
		return d, err == nil && d.ok, err
	})
	if err != nil || dicts == nil {
		return nil, err != nil, err
	}
	// buf holds the strides read for every range; at[i] is first the
	// entry of row i, then where in buf that entry lies.
	borrowed := pf.bufs.get()
	buf := borrowed
	defer func() { pf.bufs.putEither(borrowed, buf) }()
	at := make([]uint32, 0, rows)
	for i, r := range ranges {
		d := dicts[i]
		if d == nil {
			continue
		}
		start := len(at)
		var err error
		if at, buf, err = d.readEntries(ra, at, buf, int64(r.index), int64(r.index)+int64(r.rows)); err == nil {
			buf, err = d.readStrides(ra, buf, at[start:])
		}
		if err != nil {
			return nil, true, fmt.Errorf("column %s: row range %v: %w", col.name, r, err)
		}
	}
	var total uint64
	for _, off := range at {
		total += uint64(binary.LittleEndian.Uint32(buf[off:]))
	}
	if total > uint64(pf.size)*maxRowsPerByte {
		return nil, true, fmt.Errorf("%w: %d rows of %d bytes of strings in a file of %d", ErrCorrupt, len(at), total, pf.size)
	}
	var b strings.Builder
	b.Grow(int(total))
	for _, off := range at {
		b.Write(buf[off+4 : off+4+binary.LittleEndian.Uint32(buf[off:])])
	}
	all := b.String()
	out := make([]string, len(at))
	start := 0
	for i, off := range at {
		end := start + int(binary.LittleEndian.Uint32(buf[off:]))
		out[i] = all[start:end]
		start = end
	}
	return out, true, nil
}

// readEntries appends to dst the entry numbers of rows [lo, hi) of the row
// group. The pages are read into buf past its length, which is kept.
func (d *stringDictionary) readEntries(ra io.ReaderAt, dst []uint32, buf []byte, lo, hi int64) ([]uint32, []byte, error) {
	keep, first := len(buf), len(dst)
	dst = slices.Grow(dst, int(hi-lo))
	for _, p := range d.pages {
		a, b := max(lo, p.firstRow), min(hi, p.firstRow+p.rows)
		if a >= b {
			continue
		}
		var err error
		if buf, err = readAppend(ra, buf[:keep], p.off, p.size); err != nil {
			return nil, buf, err
		}
		start := len(dst)
		if dst, err = appendDictionaryIndexes(dst, buf[keep:], int(a-p.firstRow), int(b-a)); err != nil {
			return nil, buf, fmt.Errorf("%w: page at %d: %v", ErrCorrupt, p.off, err)
		}
		for _, e := range dst[start:] {
			if int64(e) >= int64(d.entries) {
				return nil, buf, fmt.Errorf("%w: dictionary index %d of %d", ErrCorrupt, e, d.entries)
			}
		}
	}
	if int64(len(dst)-first) != hi-lo {
		return nil, buf, fmt.Errorf("%w: %d of %d rows in the pages", ErrCorrupt, len(dst)-first, hi-lo)
	}
	return dst, buf[:keep], nil
}

// readStrides appends to buf the strides of the dictionary that hold
// entries, and replaces every entry number with the position in buf of
// that entry: its 4-byte length, then its bytes.
func (d *stringDictionary) readStrides(ra io.ReaderAt, buf []byte, entries []uint32) ([]byte, error) {
	// slot[s] is the position of stride s among those read, or -1.
	slot := make([]int32, len(d.strides))
	for i := range slot {
		slot[i] = -1
	}
	for _, e := range entries {
		slot[e/dictionaryStride] = 0
	}
	var strideAt []int // where stride slot k is in buf
	for s := 0; s < len(slot); {
		if slot[s] < 0 {
			s++
			continue
		}
		// Read from stride s to the last stride needed before a gap of
		// more than maxStrideGap bytes.
		last := s
		for next := s + 1; next < len(slot); next++ {
			if slot[next] < 0 {
				continue
			}
			if int64(d.strides[next])-d.strideEnd(last) > maxStrideGap {
				break
			}
			last = next
		}
		base := len(buf)
		var err error
		if buf, err = readAppend(ra, buf, d.off+int64(d.strides[s]), d.strideEnd(last)-int64(d.strides[s])); err != nil {
			return buf, err
		}
		if len(buf) > math.MaxUint32 {
			return buf, fmt.Errorf("%w: %d bytes of strings", ErrCorrupt, len(buf))
		}
		for k := s; k <= last; k++ {
			if slot[k] >= 0 {
				slot[k] = int32(len(strideAt))
				strideAt = append(strideAt, base+int(d.strides[k]-d.strides[s]))
			}
		}
		s = last + 1
	}
	// Where every entry of the strides read lies, dictionaryStride a stride.
	entryAt := make([]uint32, len(strideAt)*dictionaryStride)
	for s, k := range slot {
		if k < 0 {
			continue
		}
		pos := strideAt[k]
		stride := buf[:pos+int(d.strideEnd(s)-int64(d.strides[s]))]
		at := entryAt[int(k)*dictionaryStride:][:min(dictionaryStride, d.entries-s*dictionaryStride)]
		for j := range at {
			// plainByteArrayAt, inline: this loop runs for every string.
			if len(stride)-pos < 4 || int(binary.LittleEndian.Uint32(stride[pos:])) > len(stride)-pos-4 {
				_, err := plainByteArrayAt(stride, pos)
				return buf, fmt.Errorf("%w: dictionary entry %d: %v", ErrCorrupt, s*dictionaryStride+j, err)
			}
			at[j] = uint32(pos)
			pos += 4 + int(binary.LittleEndian.Uint32(stride[pos:]))
		}
	}
	for i, e := range entries {
		entries[i] = entryAt[int(slot[e/dictionaryStride])*dictionaryStride+int(e%dictionaryStride)]
	}
	return buf, nil
}

// readAppend reads size bytes at off onto the end of buf.
func readAppend(ra io.ReaderAt, buf []byte, off, size int64) ([]byte, error) {
	if size < 0 || size > math.MaxInt32 {
		return buf, fmt.Errorf("%w: read of %d bytes", ErrCorrupt, size)
	}
	n := len(buf)
	buf = slices.Grow(buf, int(size))[:n+int(size)]
	if err := readFull(ra, buf[n:], off); err != nil {
		return buf[:n], err
	}
	return buf, nil
}

var errShortRuns = errors.New("runs end before the values")

// appendDictionaryIndexes decodes an RLE_DICTIONARY page: a bit width byte
// and RLE/bit-packed hybrid runs. It skips skip values and appends the next
// n to dst.
func appendDictionaryIndexes(dst []uint32, page []byte, skip, n int) ([]uint32, error) {
	if n == 0 {
		return dst, nil
	}
	if len(page) == 0 {
		return dst, errShortRuns
	}
	width := int(page[0])
	if width > 32 {
		return dst, fmt.Errorf("bit width %d", width)
	}
	return appendHybrid(dst, page[1:], width, skip, n)
}

// appendHybrid decodes RLE/bit-packed hybrid runs of values of width bits
// (at most 32, and at most 8 for bytes): it skips skip values and appends
// the next n to dst. Values that a last group of 8 packs past them are
// ignored.
func appendHybrid[T uint8 | uint32](dst []T, runs []byte, width, skip, n int) ([]T, error) {
	size := len(runs)
	at := func() int { return size - len(runs) } // the byte runs is at
	for n > 0 {
		header, k := binary.Uvarint(runs)
		if k <= 0 {
			return dst, fmt.Errorf("run header at byte %d of %d: %w", at(), size, errShortRuns)
		}
		runs = runs[k:]
		if header&1 == 0 { // a run of one value, in whole bytes
			count := header >> 1
			valueBytes := (width + 7) / 8
			if len(runs) < valueBytes {
				return dst, fmt.Errorf("RLE run at byte %d has no value: %w", at(), errShortRuns)
			}
			var v uint32
			for i := range valueBytes {
				v |= uint32(runs[i]) << (8 * i)
			}
			runs = runs[valueBytes:]
			if count <= uint64(skip) {
				skip -= int(count)
				continue
			}
			take := min(count-uint64(skip), uint64(n))
			skip = 0
			for range take {
				dst = append(dst, T(v))
			}
			n -= int(take)
			continue
		}
		// Groups of 8 bit-packed values, least significant bit first.
		groups := header >> 1
		var count, packedSize int
		if width == 0 {
			// Zeros that take no bytes: count no more than are wanted.
			count = int(min(groups, uint64(skip+n))) * 8
		} else {
			// A group takes width bytes.
			if groups > uint64(len(runs)) || int(groups)*width > len(runs) {
				return dst, fmt.Errorf("%d bit-packed groups at byte %d of %d: %w", groups, at(), size, errShortRuns)
			}
			count, packedSize = int(groups)*8, int(groups)*width
		}
		if count <= skip {
			skip -= count
			runs = runs[packedSize:]
			continue
		}
		take := min(count-skip, n)
		packed := runs[:packedSize]
		mask := uint64(1)<<width - 1
		for i := skip; i < skip+take; i++ {
			bit := i * width
			var w uint64
			if b := bit / 8; b+8 <= len(packed) {
				w = binary.LittleEndian.Uint64(packed[b:])
			} else {
				for j := b; j < len(packed); j++ {
					w |= uint64(packed[j]) << (8 * (j - b))
				}
			}
			dst = append(dst, T(w>>(bit%8)&mask))
		}
		skip = 0
		n -= take
		runs = runs[packedSize:]
	}
	return dst, nil
}
