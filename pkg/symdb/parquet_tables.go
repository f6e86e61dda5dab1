package symdb

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"

	"github.com/cinder-profiling/cinder/pkg/blockreader"
	"github.com/cinder-profiling/cinder/pkg/parquetguard"
)

// maxRowsPerByte bounds the row count a parquet file may claim before any
// slice is sized from it. Real symbol tables store at least one PLAIN int64
// (8 bytes) per row; 64 rows per byte leaves room for any encoding.
const maxRowsPerByte = 64

// parquetMinSize is the size of an empty parquet file: magic, footer length
// and magic again.
const parquetMinSize = 12

// parquetTailSize is how much of the end of a parquet file is read at
// open: the footer and, for small files, all that parquet-go reads there.
const parquetTailSize = 64 << 10

// parquetFile is a parquet symbol table whose footer has been decoded. Its
// pages are read through a ReaderAt obtained for each load, because a
// ReaderAt may stop working when the context it came with is done.
type parquetFile struct {
	relPath string
	size    int64
	file    *parquet.File
	// Found once per column chunk, and per row group of the String column.
	layouts      layoutMemo[plainKey, *plainColumn]
	repeated     layoutMemo[plainKey, *repeatedColumn]
	dictionaries layoutMemo[uint32, *stringDictionary]
	bufs         *Buffers // the Reader's; nil allocates
}

// openParquetFile reads, checks and decodes the footer of a parquet symbol
// table. The footer is checked before parquet-go decodes it, so that a
// corrupt one cannot make it allocate more than the file holds.
func openParquetFile(ctx context.Context, files blockreader.BlockFiles, relPath string) (*parquetFile, error) {
	ra, size, err := files.ReaderAt(ctx, relPath)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", relPath, err)
	}
	corruptf := func(format string, args ...any) error {
		return fmt.Errorf("%s: %w", relPath, corrupt(fmt.Errorf(format, args...)))
	}
	if size < parquetMinSize {
		return nil, corruptf("file of %d bytes is too short for parquet", size)
	}
	tail := make([]byte, min(size, parquetTailSize))
	if err := readFull(ra, tail, size-int64(len(tail))); err != nil {
		return nil, fmt.Errorf("%s: footer: %w", relPath, err)
	}
	if string(tail[len(tail)-4:]) != "PAR1" {
		return nil, corruptf("no parquet magic at the end (encrypted footers are not supported)")
	}
	footerLen := int64(binary.LittleEndian.Uint32(tail[len(tail)-8:]))
	if footerLen > size-parquetMinSize {
		return nil, corruptf("parquet footer of %d bytes in a file of %d", footerLen, size)
	}
	if footerLen+8 > int64(len(tail)) {
		tail = make([]byte, footerLen+8)
		if err := readFull(ra, tail, size-int64(len(tail))); err != nil {
			return nil, fmt.Errorf("%s: footer: %w", relPath, err)
		}
	}
	footer := tail[len(tail)-8-int(footerLen) : len(tail)-8]
	if n, err := parquetguard.StructLen(footer); err != nil || n != len(footer) {
		return nil, corruptf("parquet footer: %v (%d of %d bytes)", err, n, len(footer))
	}
	cached := &tailReaderAt{ra: ra, off: size - int64(len(tail)), tail: tail}
	rec := &recordingReaderAt{ra: cached}
	f, err := openParquet(rec, size)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", relPath, rec.classify(err))
	}
	// f keeps its reader, but pages are read through the ReaderAt of each
	// load: the end of the file, up to 64 KiB, is not needed any more.
	cached.tail = nil
	return &parquetFile{relPath: relPath, size: size, file: f}, nil
}

func openParquet(ra io.ReaderAt, size int64) (f *parquet.File, err error) {
	defer recoverParquet(&err)
	// The page index is skipped: a whole column chunk is read at once
	// anyway, and it is another structure whose lists would need checking.
	return parquet.OpenFile(ra, size,
		parquet.SkipMagicBytes(true),
		parquet.SkipPageIndex(true),
		parquet.SkipBloomFilters(true),
		parquet.OptimisticRead(true),
		parquet.ReadBufferSize(parquetTailSize),
	)
}

// tailReaderAt serves reads of the end of a file from memory.
type tailReaderAt struct {
	ra   io.ReaderAt
	off  int64
	tail []byte
}

func (t *tailReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off >= t.off && off-t.off <= int64(len(t.tail)) && int64(len(p)) <= int64(len(t.tail))-(off-t.off) {
		return copy(p, t.tail[off-t.off:]), nil
	}
	return t.ra.ReadAt(p, off)
}

// chunkReaderAt serves the reads parquet-go makes of one column chunk from
// the bytes of that chunk, read and checked by readChunk.
type chunkReaderAt struct {
	off  int64
	data []byte
}

func (c *chunkReaderAt) ReadAt(p []byte, off int64) (int, error) {
	rel := off - c.off
	if rel < 0 || rel > int64(len(c.data)) {
		return 0, fmt.Errorf("%w: read at %d outside the column chunk [%d, %d)", ErrCorrupt, off, c.off, c.off+int64(len(c.data)))
	}
	n := copy(p, c.data[rel:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// readChunk reads the column chunk of one row group and checks every page
// header in it before parquet-go sees them: page sizes must lie inside the
// chunk and value counts inside the chunk's, which are bounded by its size.
func (pf *parquetFile) readChunk(ra io.ReaderAt, rowGroup int, col leafColumn, buf []byte) (*chunkReaderAt, error) {
	return pf.readChunkPages(ra, rowGroup, col, buf, nil)
}

// giveBack hands buf back to the Reader's Buffers, or the buffer that
// readChunkPages grew it into for chunk (nil when none was read).
func (pf *parquetFile) giveBack(buf []byte, chunk *chunkReaderAt) {
	if chunk != nil {
		pf.bufs.putEither(buf, chunk.data)
	} else {
		pf.bufs.put(buf)
	}
}

// readChunkPages is readChunk that also hands every checked page header to
// page, with the offset of the page's data in the chunk.
func (pf *parquetFile) readChunkPages(ra io.ReaderAt, rowGroup int, col leafColumn, buf []byte, page func(h *format.PageHeader, dataOff int) error) (*chunkReaderAt, error) {
	groups := pf.file.Metadata().RowGroups
	if rowGroup >= len(groups) || col.index >= len(groups[rowGroup].Columns) {
		return nil, fmt.Errorf("%w: row group %d has no column %d", ErrCorrupt, rowGroup, col.index)
	}
	md := &groups[rowGroup].Columns[col.index].MetaData
	start := md.DataPageOffset
	if md.DictionaryPageOffset != 0 { // as parquet-go does
		start = md.DictionaryPageOffset
	}
	total := md.TotalCompressedSize
	if start < 0 || total < 0 || start > pf.size || total > pf.size-start {
		return nil, fmt.Errorf("%w: column chunk at %d, size %d, in a file of %d bytes", ErrCorrupt, start, total, pf.size)
	}
	maxValues := maxRowsPerByte*total + maxRowsPerByte
	if md.NumValues < 0 || md.NumValues > maxValues {
		return nil, fmt.Errorf("%w: column chunk of %d bytes claims %d values", ErrCorrupt, total, md.NumValues)
	}
	data := slices.Grow(buf[:0], int(total))[:total]
	if err := readFull(ra, data, start); err != nil {
		return nil, err
	}
	var h format.PageHeader
	var protocol thrift.CompactProtocol
	for pos := 0; pos < len(data); {
		n, err := parquetguard.StructLen(data[pos:])
		if err != nil {
			return nil, fmt.Errorf("%w: page header at %d: %v", ErrCorrupt, start+int64(pos), err)
		}
		h = format.PageHeader{}
		if err := thrift.Unmarshal(&protocol, data[pos:pos+n], &h); err != nil {
			return nil, fmt.Errorf("%w: page header at %d: %v", ErrCorrupt, start+int64(pos), err)
		}
		pos += n
		if err := checkPageHeader(&h, len(data)-pos, md.NumValues); err != nil {
			return nil, fmt.Errorf("%w: page header at %d: %v", ErrCorrupt, start+int64(pos-n), err)
		}
		if page != nil {
			if err := page(&h, pos); err != nil {
				return nil, err
			}
		}
		pos += int(h.CompressedPageSize)
	}
	return &chunkReaderAt{off: start, data: data}, nil
}

// checkPageHeader bounds the sizes and counts of a page header by the bytes
// left in its chunk and the chunk's value count.
func checkPageHeader(h *format.PageHeader, left int, chunkValues int64) error {
	if h.CompressedPageSize < 0 || int(h.CompressedPageSize) > left {
		return fmt.Errorf("page of %d bytes, %d left in the chunk", h.CompressedPageSize, left)
	}
	// Compression ratios beyond 1024 do not occur in symbol tables.
	if h.UncompressedPageSize < 0 || int64(h.UncompressedPageSize) > 1024*int64(h.CompressedPageSize)+1<<20 {
		return fmt.Errorf("page of %d bytes claims %d uncompressed", h.CompressedPageSize, h.UncompressedPageSize)
	}
	var values int64
	switch {
	case h.DataPageHeader.Valid:
		values = int64(h.DataPageHeader.V.NumValues)
	case h.DataPageHeaderV2.Valid:
		v := &h.DataPageHeaderV2.V
		values = int64(v.NumValues)
		if v.NumNulls < 0 || v.NumRows < 0 || int64(v.NumNulls) > values || int64(v.NumRows) > values ||
			v.RepetitionLevelsByteLength < 0 || v.DefinitionLevelsByteLength < 0 ||
			int64(v.RepetitionLevelsByteLength)+int64(v.DefinitionLevelsByteLength) > int64(h.CompressedPageSize) {
			return errors.New("inconsistent data page v2 header")
		}
	case h.DictionaryPageHeader.Valid:
		values = int64(h.DictionaryPageHeader.V.NumValues)
		if values > 8*int64(h.UncompressedPageSize)+8 {
			return fmt.Errorf("dictionary of %d values in %d bytes", values, h.UncompressedPageSize)
		}
		return nil
	}
	if values < 0 || values > chunkValues {
		return fmt.Errorf("page of %d values in a chunk of %d", values, chunkValues)
	}
	return nil
}

// recoverParquet turns a panic inside parquet-go, which does not promise to
// survive every corrupt file, into an error.
func recoverParquet(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%w: parquet decoder panicked: %v", ErrCorrupt, r)
	}
}

// recordingReaderAt remembers the first failed read other than io.EOF, so
// that an error from parquet-go can be told apart: the file could not be
// read, or what was read is bad.
type recordingReaderAt struct {
	ra  io.ReaderAt
	mu  sync.Mutex
	err error
}

func (r *recordingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := r.ra.ReadAt(p, off)
	if err != nil && !errors.Is(err, io.EOF) {
		r.mu.Lock()
		if r.err == nil {
			r.err = err
		}
		r.mu.Unlock()
	}
	return n, err
}

// classify marks err as ErrCorrupt unless a read failed.
func (r *recordingReaderAt) classify(err error) error {
	r.mu.Lock()
	readErr := r.err
	r.mu.Unlock()
	if err == nil || readErr != nil || isContextError(err) {
		return err
	}
	return corrupt(err)
}

// leafColumn is one resolved leaf column of a parquet file.
type leafColumn struct {
	name     string // dotted path, for errors
	index    int
	repeated bool
	maxDef   int
}

// column resolves a leaf column by path and checks its physical type and
// whether it is repeated; columns are never taken by position.
func (pf *parquetFile) column(kind parquet.Kind, repeated bool, path ...string) (leafColumn, error) {
	name := strings.Join(path, ".")
	leaf, ok := pf.file.Schema().Lookup(path...)
	if !ok || leaf.Node == nil || !leaf.Node.Leaf() {
		return leafColumn{}, fmt.Errorf("%w: no column %s", ErrCorrupt, name)
	}
	if k := leaf.Node.Type().Kind(); k != kind {
		return leafColumn{}, fmt.Errorf("%w: column %s is %s, want %s", ErrCorrupt, name, k, kind)
	}
	if (leaf.MaxRepetitionLevel > 0) != repeated || leaf.MaxRepetitionLevel > 1 {
		return leafColumn{}, fmt.Errorf("%w: column %s has repetition level %d", ErrCorrupt, name, leaf.MaxRepetitionLevel)
	}
	return leafColumn{name: name, index: leaf.ColumnIndex, repeated: repeated, maxDef: leaf.MaxDefinitionLevel}, nil
}

// allRows returns row ranges that cover the whole file.
func (pf *parquetFile) allRows() ([]rowRange, error) {
	groups := pf.file.RowGroups()
	ranges := make([]rowRange, 0, len(groups))
	for i, rg := range groups {
		n := rg.NumRows()
		if n < 0 || n > math.MaxUint32 {
			return nil, fmt.Errorf("%w: row group %d has %d rows", ErrCorrupt, i, n)
		}
		if n > 0 {
			ranges = append(ranges, rowRange{rowGroup: uint32(i), index: 0, rows: uint32(n)})
		}
	}
	return ranges, nil
}

// checkRanges checks row ranges against the row groups and returns the
// number of rows they cover.
func (pf *parquetFile) checkRanges(ranges []rowRange) (int, error) {
	groups := pf.file.RowGroups()
	var total uint64
	for _, r := range ranges {
		if int(r.rowGroup) >= len(groups) {
			return 0, fmt.Errorf("%w: row range %v: the file has %d row groups", ErrCorrupt, r, len(groups))
		}
		if uint64(r.index)+uint64(r.rows) > uint64(max(groups[r.rowGroup].NumRows(), 0)) {
			return 0, fmt.Errorf("%w: row range %v: row group has %d rows", ErrCorrupt, r, groups[r.rowGroup].NumRows())
		}
		total += uint64(r.rows)
	}
	if total > uint64(pf.size)*maxRowsPerByte || total > math.MaxInt32 {
		return 0, fmt.Errorf("%w: %d rows cannot be stored in %d bytes", ErrCorrupt, total, pf.size)
	}
	return int(total), nil
}

// scanState tracks one row range while its pages are read.
type scanState struct {
	left   int64 // rows not yet started
	inRow  bool  // a row has been started (repeated columns)
	maxDef int   // definition level of a non-null value
	// values is scanValues' buffer, allocated on first use and kept for
	// every range of the column. Not kept in Buffers: the symbol tables
	// of Pyroscope's blocks take the typed paths, which do not need it.
	values *[]parquet.Value
}

// startRow accounts for a value with repetition level 0. It reports false
// when the range is complete: the value belongs to the next row.
func (s *scanState) startRow() bool {
	if s.left == 0 {
		return false
	}
	s.left--
	s.inRow = true
	return true
}

// pageFunc takes the values of one page that belong to the range and
// reports whether the range is complete.
type pageFunc func(page parquet.Page, s *scanState) (done bool, err error)

// scanColumn reads one column in the given row ranges, page by page,
// handing every page to fn. It fails unless every range yields exactly its
// number of rows.
func (pf *parquetFile) scanColumn(ra io.ReaderAt, col leafColumn, ranges []rowRange, fn pageFunc) error {
	groups := pf.file.RowGroups()
	var data *chunkReaderAt // the chunk of row group dataGroup, read once for its ranges
	var dataGroup uint32
	// parquet-go copies what it reads out of the chunk, so its bytes can
	// be reused by the next column.
	buf := pf.bufs.get()
	defer func() { pf.giveBack(buf, data) }()
	var values []parquet.Value
	for _, r := range ranges {
		if r.rows == 0 {
			continue
		}
		chunk, ok := groups[r.rowGroup].ColumnChunks()[col.index].(*parquet.FileColumnChunk)
		if !ok {
			return fmt.Errorf("column %s: row group %d is not read from a file", col.name, r.rowGroup)
		}
		if data == nil || dataGroup != r.rowGroup {
			var err error
			into := buf
			if data != nil {
				into = data.data
			}
			if data, err = pf.readChunk(ra, int(r.rowGroup), col, into); err != nil {
				return fmt.Errorf("column %s: row group %d: %w", col.name, r.rowGroup, err)
			}
			dataGroup = r.rowGroup
		}
		s := scanState{left: int64(r.rows), maxDef: col.maxDef, values: &values}
		if err := scanRange(chunk.PagesFrom(data), int64(r.index), &s, fn); err != nil {
			return fmt.Errorf("column %s: row range %v: %w", col.name, r, err)
		}
		if s.left != 0 {
			return fmt.Errorf("column %s: row range %v: %w: %d rows missing", col.name, r, ErrCorrupt, s.left)
		}
	}
	return nil
}

func scanRange(pages *parquet.FilePages, first int64, s *scanState, fn pageFunc) error {
	defer pages.Close()
	if err := pages.SeekToRow(first); err != nil {
		return err
	}
	for {
		page, err := pages.ReadPage()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		done, err := fn(page, s)
		parquet.Release(page)
		if err != nil || done {
			return err
		}
	}
}

// scanValues is the generic path: it reads a page as parquet.Values and
// calls visit with those that belong to the range.
func scanValues(page parquet.Page, s *scanState, repeated bool, visit func([]parquet.Value)) (done bool, err error) {
	if *s.values == nil {
		*s.values = make([]parquet.Value, 1024)
	}
	buf := *s.values
	values := page.Values()
	for {
		n, rerr := values.ReadValues(buf)
		if n > len(buf) || n < 0 {
			return false, fmt.Errorf("%w: page returned %d values", ErrCorrupt, n)
		}
		vals := buf[:n]
		if repeated {
			cut := len(vals)
			for i := range vals {
				if vals[i].RepetitionLevel() != 0 {
					if !s.inRow {
						return false, fmt.Errorf("%w: first value continues a row", ErrCorrupt)
					}
					continue
				}
				if !s.startRow() {
					cut, done = i, true
					break
				}
			}
			vals = vals[:cut]
		} else {
			if int64(len(vals)) >= s.left {
				vals, done = vals[:s.left], true
			}
			s.left -= int64(len(vals))
		}
		if len(vals) > 0 {
			visit(vals)
		}
		if done {
			return true, nil
		}
		if errors.Is(rerr, io.EOF) {
			return false, nil
		}
		if rerr != nil {
			return false, rerr
		}
		if n == 0 {
			return false, fmt.Errorf("%w: page returned no values and no error", ErrCorrupt)
		}
	}
}

// plainPage reports whether a page holds only non-null values without
// levels or dictionary, so that Data() is exactly its values.
func plainPage(page parquet.Page) bool {
	return page.Dictionary() == nil && len(page.RepetitionLevels()) == 0 && len(page.DefinitionLevels()) == 0
}

// readInt64s reads a flat INT64 column into dst[:0]; nulls read as 0.
func (pf *parquetFile) readInt64s(ra io.ReaderAt, col leafColumn, ranges []rowRange, dst []int64) ([]int64, error) {
	if out, ok, err := pf.readPlainInt64s(ra, col, ranges, dst); ok || err != nil {
		return out, err
	}
	dst = dst[:0]
	visit := func(vals []parquet.Value) {
		for i := range vals {
			dst = append(dst, vals[i].Int64())
		}
	}
	err := pf.scanColumn(ra, col, ranges, func(page parquet.Page, s *scanState) (bool, error) {
		if plainPage(page) {
			if d := page.Data(); d.Kind() == encoding.Int64 {
				vals := d.Int64()
				n := min(int64(len(vals)), s.left)
				dst = append(dst, vals[:n]...)
				s.left -= n
				return s.left == 0, nil
			}
		}
		return scanValues(page, s, false, visit)
	})
	return dst, err
}

// readBools reads a flat BOOLEAN column into dst[:0]; nulls read as false.
func (pf *parquetFile) readBools(ra io.ReaderAt, col leafColumn, ranges []rowRange, dst []bool) ([]bool, error) {
	if out, ok, err := pf.readPlainBools(ra, col, ranges, dst); ok || err != nil {
		return out, err
	}
	dst = dst[:0]
	visit := func(vals []parquet.Value) {
		for i := range vals {
			dst = append(dst, !vals[i].IsNull() && vals[i].Boolean())
		}
	}
	err := pf.scanColumn(ra, col, ranges, func(page parquet.Page, s *scanState) (bool, error) {
		// Boolean pages keep a bit offset once sliced, which Data() does
		// not show: read them through their typed reader instead.
		if r, ok := page.Values().(parquet.BooleanReader); ok && plainPage(page) {
			for s.left > 0 {
				start := len(dst)
				dst = slices.Grow(dst, int(min(s.left, 1024)))[:start+int(min(s.left, 1024))]
				n, err := r.ReadBooleans(dst[start:])
				dst = dst[:start+n]
				s.left -= int64(n)
				if errors.Is(err, io.EOF) || (err == nil && n == 0) {
					break
				}
				if err != nil {
					return false, err
				}
			}
			return s.left == 0, nil
		}
		return scanValues(page, s, false, visit)
	})
	return dst, err
}

// readStrings reads a flat BYTE_ARRAY column. All strings alias one copy of
// the bytes, which is one allocation instead of one per string.
func (pf *parquetFile) readStrings(ra io.ReaderAt, col leafColumn, ranges []rowRange, rows int) ([]string, error) {
	var data []byte
	ends := make([]int, 0, rows)
	visit := func(vals []parquet.Value) {
		for i := range vals {
			data = append(data, vals[i].ByteArray()...)
			ends = append(ends, len(data))
		}
	}
	err := pf.scanColumn(ra, col, ranges, func(page parquet.Page, s *scanState) (bool, error) {
		dict := page.Dictionary()
		if dict != nil && len(page.RepetitionLevels()) == 0 && len(page.DefinitionLevels()) == 0 {
			d, dd := page.Data(), dict.Page().Data()
			if d.Kind() == encoding.Int32 && dd.Kind() == encoding.ByteArray {
				values, offsets := dd.ByteArray()
				idx := d.Int32()
				n := min(int64(len(idx)), s.left)
				for _, k := range idx[:n] {
					if k < 0 || int(k)+1 >= len(offsets) || offsets[k] > offsets[k+1] || int(offsets[k+1]) > len(values) {
						return false, fmt.Errorf("%w: dictionary index %d of %d", ErrCorrupt, k, len(offsets)-1)
					}
					data = append(data, values[offsets[k]:offsets[k+1]]...)
					ends = append(ends, len(data))
				}
				s.left -= n
				return s.left == 0, nil
			}
		}
		return scanValues(page, s, false, visit)
	})
	if err != nil {
		return nil, err
	}
	all := string(data)
	out := make([]string, len(ends))
	start := 0
	for i, end := range ends {
		out[i] = all[start:end]
		start = end
	}
	return out, nil
}

// readRepeatedInt64s reads a repeated INT64 column: the non-null values of
// every row concatenated, and the number of them in each row. A row with
// one null value is an empty list.
func (pf *parquetFile) readRepeatedInt64s(ra io.ReaderAt, col leafColumn, ranges []rowRange, rows int) (values []int64, rowLens []int32, err error) {
	if values, rowLens, ok, err := pf.readPlainRepeatedInt64s(ra, col, ranges, rows); ok || err != nil {
		return values, rowLens, err
	}
	return pf.scanRepeatedInt64s(ra, col, ranges, rows)
}

// scanRepeatedInt64s is readRepeatedInt64s through parquet-go's pages.
func (pf *parquetFile) scanRepeatedInt64s(ra io.ReaderAt, col leafColumn, ranges []rowRange, rows int) (values []int64, rowLens []int32, err error) {
	rowLens = make([]int32, 0, rows)
	visit := func(vals []parquet.Value) {
		for i := range vals {
			v := &vals[i]
			if v.RepetitionLevel() == 0 {
				rowLens = append(rowLens, 0)
			}
			if !v.IsNull() {
				values = append(values, v.Int64())
				rowLens[len(rowLens)-1]++
			}
		}
	}
	err = pf.scanColumn(ra, col, ranges, func(page parquet.Page, s *scanState) (bool, error) {
		reps, defs := page.RepetitionLevels(), page.DefinitionLevels()
		d := page.Data()
		if page.Dictionary() != nil || d.Kind() != encoding.Int64 || len(reps) != len(defs) || int64(len(reps)) != page.NumValues() {
			return scanValues(page, s, true, visit)
		}
		vals := d.Int64()
		next := 0 // next non-null value
		for i, rep := range reps {
			if rep == 0 {
				if !s.startRow() {
					return true, nil
				}
				rowLens = append(rowLens, 0)
			} else if !s.inRow {
				return false, fmt.Errorf("%w: first value continues a row", ErrCorrupt)
			}
			if int(defs[i]) == s.maxDef {
				if next >= len(vals) {
					return false, fmt.Errorf("%w: page has %d values for more definition levels", ErrCorrupt, len(vals))
				}
				values = append(values, vals[next])
				next++
				rowLens[len(rowLens)-1]++
			}
		}
		return false, nil
	})
	return values, rowLens, err
}

// readFunctions reads the rows of functions.parquet in ranges.
func (pf *parquetFile) readFunctions(ra io.ReaderAt, ranges []rowRange) (out []Function, err error) {
	defer recoverParquet(&err)
	rows, err := pf.checkRanges(ranges)
	if err != nil {
		return nil, err
	}
	out = make([]Function, rows)
	var vals []int64
	for k, name := range [4]string{"Name", "SystemName", "Filename", "StartLine"} {
		col, err := pf.column(parquet.Int64, false, name)
		if err != nil {
			return nil, err
		}
		if vals, err = pf.readInt64s(ra, col, ranges, vals); err != nil {
			return nil, err
		}
		for i := range out {
			switch k {
			case 0:
				out[i].Name = uint32(vals[i])
			case 1:
				out[i].SystemName = uint32(vals[i])
			case 2:
				out[i].Filename = uint32(vals[i])
			case 3:
				out[i].StartLine = vals[i]
			}
		}
		// String positions are validated later as uint32; a value that
		// does not fit must not wrap into range.
		if k < 3 {
			if err := checkUint32s(col.name, vals); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// readMappings reads the rows of mappings.parquet in ranges.
func (pf *parquetFile) readMappings(ra io.ReaderAt, ranges []rowRange) (out []Mapping, err error) {
	defer recoverParquet(&err)
	rows, err := pf.checkRanges(ranges)
	if err != nil {
		return nil, err
	}
	out = make([]Mapping, rows)
	var ints []int64
	for k, name := range [5]string{"MemoryStart", "MemoryLimit", "FileOffset", "Filename", "BuildId"} {
		col, err := pf.column(parquet.Int64, false, name)
		if err != nil {
			return nil, err
		}
		if ints, err = pf.readInt64s(ra, col, ranges, ints); err != nil {
			return nil, err
		}
		if k >= 3 {
			if err := checkUint32s(col.name, ints); err != nil {
				return nil, err
			}
		}
		for i := range out {
			switch k {
			case 0:
				out[i].MemoryStart = uint64(ints[i])
			case 1:
				out[i].MemoryLimit = uint64(ints[i])
			case 2:
				out[i].FileOffset = uint64(ints[i])
			case 3:
				out[i].Filename = uint32(ints[i])
			case 4:
				out[i].BuildID = uint32(ints[i])
			}
		}
	}
	var bools []bool
	for k, name := range [4]string{"HasFunctions", "HasFilenames", "HasLineNumbers", "HasInlineFrames"} {
		col, err := pf.column(parquet.Boolean, false, name)
		if err != nil {
			return nil, err
		}
		if bools, err = pf.readBools(ra, col, ranges, bools); err != nil {
			return nil, err
		}
		for i := range out {
			switch k {
			case 0:
				out[i].HasFunctions = bools[i]
			case 1:
				out[i].HasFilenames = bools[i]
			case 2:
				out[i].HasLineNumbers = bools[i]
			case 3:
				out[i].HasInlineFrames = bools[i]
			}
		}
	}
	return out, nil
}

// readStringTable reads the rows of strings.parquet in ranges.
func (pf *parquetFile) readStringTable(ra io.ReaderAt, ranges []rowRange) (out []string, err error) {
	defer recoverParquet(&err)
	rows, err := pf.checkRanges(ranges)
	if err != nil {
		return nil, err
	}
	col, err := pf.column(parquet.ByteArray, false, "String")
	if err != nil {
		return nil, err
	}
	if out, ok, err := pf.readDictionaryStrings(ra, col, ranges, rows); ok || err != nil {
		return out, err
	}
	return pf.readStrings(ra, col, ranges, rows)
}

// readLocations reads the rows of locations.parquet in ranges. Line is a
// repeated group (not a LIST); a location without lines has one null.
func (pf *parquetFile) readLocations(ra io.ReaderAt, ranges []rowRange) (out []Location, err error) {
	defer recoverParquet(&err)
	rows, err := pf.checkRanges(ranges)
	if err != nil {
		return nil, err
	}
	out = make([]Location, rows)
	var ints []int64
	for k, name := range [2]string{"MappingId", "Address"} {
		col, err := pf.column(parquet.Int64, false, name)
		if err != nil {
			return nil, err
		}
		if ints, err = pf.readInt64s(ra, col, ranges, ints); err != nil {
			return nil, err
		}
		if k == 0 {
			if err := checkUint32s(col.name, ints); err != nil {
				return nil, err
			}
		}
		for i := range out {
			if k == 0 {
				out[i].MappingID = uint32(ints[i])
			} else {
				out[i].Address = uint64(ints[i])
			}
		}
	}
	folded, err := pf.column(parquet.Boolean, false, "IsFolded")
	if err != nil {
		return nil, err
	}
	bools, err := pf.readBools(ra, folded, ranges, nil)
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].IsFolded = bools[i]
	}

	fnCol, err := pf.column(parquet.Int64, true, "Line", "FunctionId")
	if err != nil {
		return nil, err
	}
	fnIDs, fnLens, err := pf.readRepeatedInt64s(ra, fnCol, ranges, rows)
	if err != nil {
		return nil, err
	}
	if err := checkUint32s(fnCol.name, fnIDs); err != nil {
		return nil, err
	}
	lineCol, err := pf.column(parquet.Int64, true, "Line", "Line")
	if err != nil {
		return nil, err
	}
	lineNums, lineLens, err := pf.readRepeatedInt64s(ra, lineCol, ranges, rows)
	if err != nil {
		return nil, err
	}
	if len(fnLens) != rows || len(lineLens) != rows || len(fnIDs) != len(lineNums) {
		return nil, fmt.Errorf("%w: Line.FunctionId and Line.Line disagree: %d and %d rows, %d and %d lines", ErrCorrupt, len(fnLens), len(lineLens), len(fnIDs), len(lineNums))
	}
	lines := make([]Line, len(fnIDs))
	for i := range lines {
		lines[i] = Line{FunctionID: uint32(fnIDs[i]), Line: lineNums[i]}
	}
	start := 0
	for i := range out {
		if fnLens[i] != lineLens[i] {
			return nil, fmt.Errorf("%w: location %d has %d function IDs but %d line numbers", ErrCorrupt, i, fnLens[i], lineLens[i])
		}
		end := start + int(fnLens[i])
		out[i].Lines = lines[start:end:end]
		start = end
	}
	return out, nil
}

// readStacktraces reads stacktraces.parquet (meta v1): the location IDs of
// every row, leaf first, concatenated, and the number of them in each row.
func (pf *parquetFile) readStacktraces(ra io.ReaderAt) (locs []int64, rowLens []int32, err error) {
	defer recoverParquet(&err)
	ranges, err := pf.allRows()
	if err != nil {
		return nil, nil, err
	}
	rows, err := pf.checkRanges(ranges)
	if err != nil {
		return nil, nil, err
	}
	col, err := pf.column(parquet.Int64, true, "LocationIDs", "list", "element")
	if err != nil {
		return nil, nil, err
	}
	locs, rowLens, err = pf.readRepeatedInt64s(ra, col, ranges, rows)
	if err == nil && len(rowLens) != rows {
		err = fmt.Errorf("%w: %d stack traces, footer says %d", ErrCorrupt, len(rowLens), rows)
	}
	return locs, rowLens, err
}

// checkUint32s rejects references that do not fit a uint32: truncating
// them could make a corrupt value look valid.
func checkUint32s(name string, vals []int64) error {
	for i, v := range vals {
		if v < 0 || v > math.MaxUint32 {
			return fmt.Errorf("%w: column %s, row %d: reference %d out of range", ErrCorrupt, name, i, v)
		}
	}
	return nil
}
