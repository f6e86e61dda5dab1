package symdb

import (
	"encoding/binary"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/parquet-go/parquet-go/format"
)

// plainDataPage is a data page of a required, flat column whose values are
// stored PLAIN and uncompressed: the value of any row lies at an offset
// computed from its number, and can be read without the rest of the page.
type plainDataPage struct {
	firstRow int64 // in the row group
	rows     int64
	off      int64 // file offset of the first value
}

// plainColumn is the page layout of one column chunk. Pages is nil when
// some page of the chunk is not plain: the chunk is then read through
// parquet-go.
//
// NOTE: the symbol tables of a format 2 block are one row group whose
// every column chunk is shared by all partitions. Reading a partition's
// rows straight from the file, instead of decoding the whole page for each
// partition, is what makes loading the partitions of a block cost about as
// much as loading the block once.
type plainColumn struct {
	pages []plainDataPage
}

type plainKey struct {
	rowGroup uint32
	column   int
}

// layoutMemo keeps what was found once about a part of a parquet file
// (the page layout of a column chunk, say), by key. Finding runs without
// the lock: two first uses may both find it, and either result is kept.
type layoutMemo[K comparable, V any] struct {
	mu sync.Mutex
	m  map[K]V
}

// get returns the value of k, from find on first use; an error is not kept.
func (l *layoutMemo[K, V]) get(k K, find func() (V, error)) (V, error) {
	l.mu.Lock()
	v, ok := l.m[k]
	l.mu.Unlock()
	if ok {
		return v, nil
	}
	v, err := find()
	if err != nil {
		return v, err
	}
	l.mu.Lock()
	if l.m == nil {
		l.m = make(map[K]V)
	}
	l.m[k] = v
	l.mu.Unlock()
	return v, nil
}

// plainLayout returns the page layout of a column chunk whose values have
// valueBits bits each, reading the chunk's page headers on first use.
func (pf *parquetFile) plainLayout(ra io.ReaderAt, rowGroup uint32, col leafColumn, valueBits int64) (*plainColumn, error) {
	pc, err := pf.layouts.get(plainKey{rowGroup, col.index}, func() (*plainColumn, error) {
		return pf.readPlainLayout(ra, rowGroup, col, valueBits)
	})
	if err != nil {
		return nil, fmt.Errorf("column %s: row group %d: %w", col.name, rowGroup, err)
	}
	return pc, nil
}

func (pf *parquetFile) readPlainLayout(ra io.ReaderAt, rowGroup uint32, col leafColumn, valueBits int64) (*plainColumn, error) {
	pc := &plainColumn{}
	groups := pf.file.Metadata().RowGroups
	if int(rowGroup) >= len(groups) || col.index >= len(groups[rowGroup].Columns) {
		return nil, fmt.Errorf("%w: row group %d has no column %d", ErrCorrupt, rowGroup, col.index)
	}
	if col.repeated || col.maxDef != 0 || groups[rowGroup].Columns[col.index].MetaData.Codec != format.Uncompressed {
		return pc, nil
	}
	plain := true
	var rows int64
	buf := pf.bufs.get()
	chunk, err := pf.readChunkPages(ra, int(rowGroup), col, buf, func(h *format.PageHeader, dataOff int) error {
		var values, levels int64
		switch {
		case !plain:
			return nil
		case h.DataPageHeader.Valid && h.DataPageHeader.V.Encoding == format.Plain:
			// A required, flat column stores no levels in a v1 page.
			values = int64(h.DataPageHeader.V.NumValues)
		case h.DataPageHeaderV2.Valid && h.DataPageHeaderV2.V.Encoding == format.Plain:
			v := &h.DataPageHeaderV2.V
			if v.NumNulls != 0 || v.NumRows != v.NumValues {
				plain = false
				return nil
			}
			values = int64(v.NumValues)
			levels = int64(v.RepetitionLevelsByteLength) + int64(v.DefinitionLevelsByteLength)
		default: // dictionary pages, other encodings, index pages
			plain = false
			return nil
		}
		if (values*valueBits+7)/8 > int64(h.CompressedPageSize)-levels {
			plain = false // let parquet-go report it
			return nil
		}
		pc.pages = append(pc.pages, plainDataPage{firstRow: rows, rows: values, off: int64(dataOff) + levels})
		rows += values
		return nil
	})
	// Only the page offsets are kept, not the chunk's bytes.
	pf.giveBack(buf, chunk)
	if err != nil {
		return nil, err
	}
	if !plain || rows != groups[rowGroup].NumRows {
		return &plainColumn{}, nil
	}
	for i := range pc.pages {
		pc.pages[i].off += chunk.off
	}
	pc.pages = slices.Clip(pc.pages)
	return pc, nil
}

// rangeLayouts returns the layout of the row group of each range (none
// for an empty range), from layout, or nil when layout reports one of them
// laid out otherwise.
func rangeLayouts[L any](ranges []rowRange, layout func(rowGroup uint32) (L, bool, error)) ([]L, error) {
	out := make([]L, len(ranges))
	for i, r := range ranges {
		if r.rows == 0 {
			continue
		}
		l, ok, err := layout(r.rowGroup)
		if err != nil || !ok {
			return nil, err
		}
		out[i] = l
	}
	return out, nil
}

// plainLayoutsOf returns the layouts of the row groups of ranges, or nil
// when one of them is not plain.
func (pf *parquetFile) plainLayoutsOf(ra io.ReaderAt, col leafColumn, ranges []rowRange, valueBits int64) ([]*plainColumn, error) {
	return rangeLayouts(ranges, func(rowGroup uint32) (*plainColumn, bool, error) {
		pc, err := pf.plainLayout(ra, rowGroup, col, valueBits)
		return pc, err == nil && pc.pages != nil, err
	})
}

// readPlain calls fn with the bytes that hold rows [lo, hi) of a plain
// column, page by page, and the bit offset of row lo in the first byte.
func (pc *plainColumn) readPlain(ra io.ReaderAt, lo, hi, valueBits int64, buf *[]byte, fn func(b []byte, bitOff int64, rows int64)) error {
	for _, p := range pc.pages {
		a, b := max(lo, p.firstRow), min(hi, p.firstRow+p.rows)
		if a >= b {
			continue
		}
		first, last := (a-p.firstRow)*valueBits, (b-p.firstRow)*valueBits // bits
		data := slices.Grow((*buf)[:0], int((last+7)/8-first/8))[:(last+7)/8-first/8]
		*buf = data
		if err := readFull(ra, data, p.off+first/8); err != nil {
			return err
		}
		fn(data, first%8, b-a)
	}
	return nil
}

// readPlainInt64s is readInt64s for plain columns. It reports false, and
// reads nothing, when a row group of ranges is not plain.
func (pf *parquetFile) readPlainInt64s(ra io.ReaderAt, col leafColumn, ranges []rowRange, dst []int64) ([]int64, bool, error) {
	return readPlainValues(pf, ra, col, ranges, 64, dst, func(dst []int64, b []byte, _, rows int64) []int64 {
		for j := range rows {
			dst = append(dst, int64(binary.LittleEndian.Uint64(b[8*j:])))
		}
		return dst
	})
}

// readPlainBools is readBools for plain columns; see readPlainInt64s.
func (pf *parquetFile) readPlainBools(ra io.ReaderAt, col leafColumn, ranges []rowRange, dst []bool) ([]bool, bool, error) {
	return readPlainValues(pf, ra, col, ranges, 1, dst, func(dst []bool, b []byte, bitOff, rows int64) []bool {
		// PLAIN booleans are bit-packed, least significant bit first.
		for j := bitOff; j < bitOff+rows; j++ {
			dst = append(dst, b[j>>3]>>(j&7)&1 != 0)
		}
		return dst
	})
}

// readPlainValues reads the rows of ranges of a plain column of bits-wide
// values into dst[:0], decoding each run of rows with decode (bitOff is
// the run's first bit in b). It reports false, and reads nothing, when a
// row group of ranges is not plain.
func readPlainValues[T any](pf *parquetFile, ra io.ReaderAt, col leafColumn, ranges []rowRange, bits int64, dst []T,
	decode func(dst []T, b []byte, bitOff, rows int64) []T) ([]T, bool, error) {
	layouts, err := pf.plainLayoutsOf(ra, col, ranges, bits)
	if err != nil || layouts == nil {
		return dst, false, err
	}
	buf := pf.bufs.get()
	defer func() { pf.bufs.put(buf) }()
	dst = slices.Grow(dst[:0], rowsIn(ranges))
	for i, r := range ranges {
		if r.rows == 0 {
			continue
		}
		err := layouts[i].readPlain(ra, int64(r.index), int64(r.index)+int64(r.rows), bits, &buf, func(b []byte, bitOff, rows int64) {
			dst = decode(dst, b, bitOff, rows)
		})
		if err != nil {
			return nil, true, fmt.Errorf("column %s: row range %v: %w", col.name, r, err)
		}
	}
	return dst, true, nil
}

func rowsIn(ranges []rowRange) int {
	n := 0
	for _, r := range ranges {
		n += int(r.rows)
	}
	return n
}
