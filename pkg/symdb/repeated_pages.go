package symdb

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/bits"
	"slices"

	"github.com/parquet-go/parquet-go/format"
)

// repeatedDataPage is a data page of a repeated INT64 column whose values
// are PLAIN and uncompressed: its levels are a few kilobytes, and once
// they are counted the values of any run of its rows are one run of bytes.
type repeatedDataPage struct {
	firstRow int64 // in the row group
	rows     int64
	levels   int64 // one per value slot, null or not
	values   int64 // non-null values
	// The page's RLE/bit-packed repetition levels, and its definition
	// levels when it has nulls (else nil), kept from the read of the
	// layout: every read of rows counts them, and reading them from the
	// file again would double the requests of a partition's load.
	rep, def  []byte
	valuesOff int64 // file offset of the first value
}

// noNulls reports whether every definition level of p is the column's
// maximum, as in every page Pyroscope writes: value k is then level k, and
// rows are counted from the repetition levels alone.
func (p *repeatedDataPage) noNulls() bool { return p.values == p.levels }

// repeatedColumn is the page layout of one column chunk of a repeated
// column. Pages is nil when some page is laid out otherwise: the chunk is
// then read through parquet-go.
//
// NOTE: as for plainColumn, the point is the shared row group of a format
// 2 block. Pyroscope writes Line.FunctionId and Line.Line of all the
// partitions of a block in one or two pages each; decoding those pages
// whole through parquet-go, for every partition, took a sixth of loading
// a partition of the bench bucket.
type repeatedColumn struct {
	pages []repeatedDataPage
}

// repeatedLayout returns the page layout of a repeated column chunk,
// reading it on first use.
func (pf *parquetFile) repeatedLayout(ra io.ReaderAt, rowGroup uint32, col leafColumn) (*repeatedColumn, error) {
	rc, err := pf.repeated.get(plainKey{rowGroup, col.index}, func() (*repeatedColumn, error) {
		return pf.readRepeatedLayout(ra, rowGroup, col)
	})
	if err != nil {
		return nil, fmt.Errorf("column %s: row group %d: %w", col.name, rowGroup, err)
	}
	return rc, nil
}

// levelWidth is the bit width of levels up to maxLevel.
func levelWidth(maxLevel int) int { return bits.Len(uint(maxLevel)) }

func (pf *parquetFile) readRepeatedLayout(ra io.ReaderAt, rowGroup uint32, col leafColumn) (*repeatedColumn, error) {
	groups := pf.file.Metadata().RowGroups
	if int(rowGroup) >= len(groups) || col.index >= len(groups[rowGroup].Columns) {
		return nil, fmt.Errorf("%w: row group %d has no column %d", ErrCorrupt, rowGroup, col.index)
	}
	none := &repeatedColumn{}
	if !col.repeated || col.maxDef < 1 || levelWidth(col.maxDef) > 8 || groups[rowGroup].Columns[col.index].MetaData.Codec != format.Uncompressed {
		return none, nil
	}
	// What the page headers say; v1 pages hold their level lengths in
	// their data, read once the chunk is in memory.
	type pageAt struct {
		v1      bool
		dataOff int64
		size    int64
		levels  int64
		// v2 only
		rows, nulls, repLen, defLen int64
	}
	var pages []pageAt
	laidOut := true
	buf := pf.bufs.get()
	chunk, err := pf.readChunkPages(ra, int(rowGroup), col, buf, func(h *format.PageHeader, dataOff int) error {
		p := pageAt{dataOff: int64(dataOff), size: int64(h.CompressedPageSize)}
		switch {
		case !laidOut:
			return nil
		case h.DataPageHeader.Valid:
			v := &h.DataPageHeader.V
			if v.Encoding != format.Plain || v.RepetitionLevelEncoding != format.RLE || v.DefinitionLevelEncoding != format.RLE {
				laidOut = false
				return nil
			}
			p.v1, p.levels = true, int64(v.NumValues)
		case h.DataPageHeaderV2.Valid:
			v := &h.DataPageHeaderV2.V
			if v.Encoding != format.Plain {
				laidOut = false
				return nil
			}
			p.levels, p.rows, p.nulls = int64(v.NumValues), int64(v.NumRows), int64(v.NumNulls)
			p.repLen, p.defLen = int64(v.RepetitionLevelsByteLength), int64(v.DefinitionLevelsByteLength)
		default: // dictionary pages, index pages
			laidOut = false
			return nil
		}
		pages = append(pages, p)
		return nil
	})
	defer pf.giveBack(buf, chunk)
	if err != nil {
		return nil, err
	}
	if !laidOut || len(pages) == 0 {
		return none, nil
	}
	var rows int64
	rc := &repeatedColumn{pages: make([]repeatedDataPage, 0, len(pages))}
	for _, p := range pages {
		data := chunk.data[p.dataOff : p.dataOff+p.size]
		rp := repeatedDataPage{firstRow: rows, levels: p.levels}
		// Where the levels lie in the page.
		var repOff, repLen, defOff, defLen int64
		if p.v1 {
			// Each level stream is preceded by its length in 4 bytes.
			var ok bool
			if repOff, repLen, ok = lengthPrefixed(data, 0); !ok {
				return none, nil
			}
			if defOff, defLen, ok = lengthPrefixed(data, repOff+repLen); !ok {
				return none, nil
			}
		} else {
			if p.repLen+p.defLen > p.size {
				return none, nil
			}
			repOff, repLen = 0, p.repLen
			defOff, defLen = p.repLen, p.defLen
		}
		repLevels, defLevels := data[repOff:repOff+repLen], data[defOff:defOff+defLen]
		// Count rows and values once, so that a page whose rows do not
		// start with it, or whose counts disagree with its header, is
		// left to parquet-go.
		var first, end int64
		var err error
		_, first, end, rp.rows, err = countRows(repLevels, p.levels, 0, math.MaxInt64, nil, false)
		if err != nil || (p.levels > 0 && first != 0) || end != p.levels {
			return none, nil
		}
		if rp.values, err = countMaxLevel(defLevels, p.levels, col.maxDef); err != nil {
			return none, nil
		}
		if !p.v1 && (rp.rows != p.rows || rp.values != p.levels-p.nulls) {
			return none, nil
		}
		if rp.values*8 > p.size-(defOff+defLen) {
			return none, nil
		}
		// Copied: the chunk's buffer goes back to the pool.
		rp.rep = bytes.Clone(repLevels)
		if !rp.noNulls() {
			rp.def = bytes.Clone(defLevels)
		}
		rp.valuesOff = chunk.off + p.dataOff + defOff + defLen
		rc.pages = append(rc.pages, rp)
		rows += rp.rows
	}
	if rows != groups[rowGroup].NumRows {
		return none, nil
	}
	return rc, nil
}

// lengthPrefixed returns where the bytes that a 4-byte little-endian length
// at off announces lie in data.
func lengthPrefixed(data []byte, off int64) (start, n int64, ok bool) {
	if off < 0 || off+4 > int64(len(data)) {
		return 0, 0, false
	}
	n = int64(binary.LittleEndian.Uint32(data[off:]))
	if n > int64(len(data))-off-4 {
		return 0, 0, false
	}
	return off + 4, n, true
}

// decodePageLevels appends to dst the n repetition levels (at most 1) of
// rep, then the n definition levels (at most maxDef) of def.
func decodePageLevels(dst, rep, def []byte, n int64, maxDef int) ([]byte, error) {
	dst = slices.Grow(dst, int(2*n))
	dst, err := appendLevels(dst, rep, int(n), 1)
	if err != nil {
		return nil, fmt.Errorf("repetition levels: %w", err)
	}
	if dst, err = appendLevels(dst, def, int(n), maxDef); err != nil {
		return nil, fmt.Errorf("definition levels: %w", err)
	}
	return dst, nil
}

// appendLevels appends to dst the first n levels of an RLE/bit-packed
// hybrid stream of levels up to maxLevel (at most 255). Levels that a last
// group of 8 packs past n are ignored.
func appendLevels(dst, src []byte, n, maxLevel int) ([]byte, error) {
	start := len(dst)
	dst, err := appendHybrid(dst, src, levelWidth(maxLevel), 0, n)
	if err != nil {
		return nil, fmt.Errorf("%w: levels: %w", ErrCorrupt, err)
	}
	for _, v := range dst[start:] {
		if int(v) > maxLevel {
			return nil, fmt.Errorf("%w: level %d above %d", ErrCorrupt, v, maxLevel)
		}
	}
	return dst, nil
}

// readPlainRepeatedInt64s is readRepeatedInt64s for columns laid out as
// repeatedColumn describes. It reports false, and reads nothing, when a
// row group of ranges is laid out otherwise.
func (pf *parquetFile) readPlainRepeatedInt64s(ra io.ReaderAt, col leafColumn, ranges []rowRange, rows int) (values []int64, rowLens []int32, ok bool, err error) {
	layouts, err := rangeLayouts(ranges, func(rowGroup uint32) (*repeatedColumn, bool, error) {
		rc, err := pf.repeatedLayout(ra, rowGroup, col)
		return rc, err == nil && rc.pages != nil, err
	})
	if err != nil || layouts == nil {
		return nil, nil, err != nil, err
	}
	buf, levels := pf.bufs.get(), pf.bufs.get()
	defer func() { pf.bufs.put(buf); pf.bufs.put(levels) }()
	rowLens = make([]int32, 0, rows)
	values = make([]int64, 0, rows)
	for i, r := range ranges {
		if r.rows == 0 {
			continue
		}
		lo, hi := int64(r.index), int64(r.index)+int64(r.rows)
		for _, p := range layouts[i].pages {
			a, b := max(lo, p.firstRow)-p.firstRow, min(hi, p.firstRow+p.rows)-p.firstRow
			if a >= b {
				continue
			}
			if values, rowLens, err = p.read(ra, a, b, col.maxDef, &buf, &levels, values, rowLens); err != nil {
				return nil, nil, true, fmt.Errorf("column %s: row range %v: %w", col.name, r, err)
			}
		}
	}
	return values, rowLens, true, nil
}

// read appends the values of rows [a, b) of the page, counted from its
// first row, to values, and their number per row to rowLens.
func (p *repeatedDataPage) read(ra io.ReaderAt, a, b int64, maxDef int, buf, levels *[]byte, values []int64, rowLens []int32) ([]int64, []int32, error) {
	start := len(rowLens)
	var first, end int64 // values before row a, and before row b
	var err error
	if p.noNulls() {
		rowLens, first, end, _, err = countRows(p.rep, p.levels, a, b, rowLens, true)
	} else {
		rowLens, first, end, err = p.countRowsAndNulls(a, b, maxDef, levels, rowLens)
	}
	if err != nil {
		return nil, nil, err
	}
	if first < 0 || int64(len(rowLens)-start) != b-a || end > p.values {
		return nil, nil, fmt.Errorf("%w: page of %d rows and %d values has %d rows from row %d on", ErrCorrupt, p.rows, p.values, len(rowLens)-start, a)
	}
	n := end - first
	raw := slices.Grow((*buf)[:0], int(8*n))[:8*n]
	*buf = raw
	if err := readFull(ra, raw, p.valuesOff+8*first); err != nil {
		return nil, nil, err
	}
	values = slices.Grow(values, int(n))
	for j := range n {
		values = append(values, int64(binary.LittleEndian.Uint64(raw[8*j:])))
	}
	return values, rowLens, nil
}

// countRowsAndNulls counts rows [a, b) of a page with nulls from its
// decoded levels; see countRows.
func (p *repeatedDataPage) countRowsAndNulls(a, b int64, maxDef int, levels *[]byte, rowLens []int32) ([]int32, int64, int64, error) {
	lv, err := decodePageLevels((*levels)[:0], p.rep, p.def, p.levels, maxDef)
	if err != nil {
		return nil, 0, 0, err
	}
	*levels = lv
	rep, def := lv[:p.levels], lv[p.levels:2*p.levels]
	row, nonNull := int64(-1), int64(0)
	first := int64(-1)
	for i := range rep {
		if rep[i] == 0 {
			row++
			if row == b {
				break
			}
			if row == a {
				first = nonNull
			}
			if row >= a {
				rowLens = append(rowLens, 0)
			}
		}
		if int(def[i]) == maxDef {
			nonNull++
			if row >= a {
				rowLens[len(rowLens)-1]++
			}
		}
	}
	return rowLens, first, nonNull, nil
}

// countRows counts the rows of a page without nulls from its repetition
// levels (rep, an RLE/bit-packed stream of n levels of width 1, where 0
// starts a row). It returns the levels before row a (-1 if the page does
// not reach it) and before row b (n if it does not reach it), and the rows
// it went through: b, or all of the page's. With keep, it appends the
// length of rows [a, b) to rowLens. Rows before a are skipped a run, or 8
// levels, at a time.
func countRows(rep []byte, n, a, b int64, rowLens []int32, keep bool) (_ []int32, first, end, rows int64, err error) {
	row, level := int64(-1), int64(0)
	first = -1
	// start begins a row at level.
	start := func() bool {
		row++
		if row == b {
			return false
		}
		if row == a {
			first = level
		}
		if keep && row >= a {
			rowLens = append(rowLens, 0)
		}
		return true
	}
	pos := 0
	for level < n {
		h, k := binary.Uvarint(rep[pos:])
		if k <= 0 {
			return nil, 0, 0, 0, fmt.Errorf("%w: repetition levels: run header at byte %d of %d", ErrCorrupt, pos, len(rep))
		}
		pos += k
		if h&1 == 0 {
			if pos >= len(rep) {
				return nil, 0, 0, 0, fmt.Errorf("%w: repetition levels: RLE run at byte %d has no value", ErrCorrupt, pos)
			}
			v := rep[pos]
			pos++
			count := int64(min(h>>1, uint64(n-level)))
			switch {
			case v > 1:
				return nil, 0, 0, 0, fmt.Errorf("%w: repetition level %d above 1", ErrCorrupt, v)
			case v == 1:
				if row < 0 {
					return nil, 0, 0, 0, fmt.Errorf("%w: page starts inside a row", ErrCorrupt)
				}
				if keep && row >= a {
					rowLens[len(rowLens)-1] += int32(count)
				}
				level += count
			case row+count < a:
				row += count
				level += count
			default:
				for range count {
					if !start() {
						return rowLens, first, level, row, nil
					}
					if keep && row >= a {
						rowLens[len(rowLens)-1]++
					}
					level++
				}
			}
			continue
		}
		groups := h >> 1
		if groups > uint64(len(rep)-pos) {
			return nil, 0, 0, 0, fmt.Errorf("%w: repetition levels: %d bit-packed groups at byte %d of %d", ErrCorrupt, groups, pos, len(rep))
		}
		packed := rep[pos : pos+int(groups)]
		pos += int(groups)
		for _, w := range packed {
			m := min(8, n-level)
			if m <= 0 {
				break
			}
			if m == 8 {
				if zeros := int64(8 - bits.OnesCount8(w)); row+zeros < a {
					if row < 0 && w&1 != 0 {
						return nil, 0, 0, 0, fmt.Errorf("%w: page starts inside a row", ErrCorrupt)
					}
					row += zeros
					level += 8
					continue
				}
			}
			for i := range m {
				if w>>i&1 == 0 {
					if !start() {
						return rowLens, first, level, row, nil
					}
				} else if row < 0 {
					return nil, 0, 0, 0, fmt.Errorf("%w: page starts inside a row", ErrCorrupt)
				}
				if keep && row >= a {
					rowLens[len(rowLens)-1]++
				}
				level++
			}
		}
	}
	return rowLens, first, level, row + 1, nil
}

// countMaxLevel counts the levels equal to maxLevel among the first n of
// an RLE/bit-packed stream of levels up to maxLevel. It runs once per
// page, when its layout is read.
func countMaxLevel(src []byte, n int64, maxLevel int) (int64, error) {
	levels, err := appendLevels(nil, src, int(n), maxLevel)
	if err != nil {
		return 0, err
	}
	return int64(bytes.Count(levels, []byte{byte(maxLevel)})), nil
}
