package blockreader

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"sort"
	"sync"
	"unsafe"

	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding/rle"
	"github.com/parquet-go/parquet-go/format"

	"github.com/cinder-profiling/cinder/pkg/parquetguard"
)

// columnValues holds decoded values of one physical type.
type columnValues struct {
	i32 []int32
	i64 []int64
	// bytes holds byte arrays, value k being bytes[offsets[k]:offsets[k+1]],
	// or fixed-length byte arrays back to back.
	bytes   []byte
	offsets []uint32
}

// columnCursor reads one column chunk row by row, moving forward only.
//
// It fetches pages with few large reads: the pages that hold wanted rows
// (located with the offset index), or the chunk front to back when there
// is no offset index. Each page it loads is decoded once: levels at once,
// values when a row of the page is first read. The slices it returns alias
// its buffers and stay valid until the next call.
type columnCursor struct {
	p   *ProfilesReader
	col *leafColumn
	ctx context.Context

	// The column chunk of the current row group.
	ch       *chunkInfo
	numRows  int64
	wantPage []bool // per page of ch.pages: holds a wanted row

	// buf holds the bytes [bufOff, bufOff+len(buf)) of the file.
	buf    []byte
	bufOff int64

	dict       columnValues
	dictLen    int
	dictLoaded bool

	// The current page.
	loaded   bool
	nextOff  int64 // file offset of the next page, without one
	nextRow  int64 // first row of the next page, without one
	firstRow int64 // first row that starts in the page
	pageRows int64 // rows that start in the page
	entries  int   // level entries, nulls included
	nonNull  int   // entries with a value
	rep, def []byte
	valEnc   format.Encoding
	valRaw   []byte
	vals     columnValues
	valsDone bool

	// Position: row starts at entry lvl; its first value is vals[val].
	row      int64
	lvl, val int

	// Reused buffers.
	repBuf, defBuf []byte
	pageData       []byte // decompressed page
	dictData       []byte // decompressed dictionary page
	dictRaw        []byte // fetched dictionary page
	idx            []int32
	delta          deltaDecoder
	scratch        columnValues // rows spanning pages or holding nulls
	hdr            format.PageHeader
}

// reset points the cursor at the column's chunk in rg. wanted are the rows
// that will be read, ascending; the cursor fetches only pages holding them.
func (c *columnCursor) reset(rg *rowGroupInfo, wanted []rowRange) {
	c.ch, c.numRows = &rg.chunks[c.col.role], rg.numRows
	c.buf, c.bufOff = c.buf[:0], 0
	c.dictLoaded, c.dictLen = false, 0
	c.loaded, c.valsDone = false, false
	c.nextOff, c.nextRow, c.row = c.ch.start, 0, 0
	c.wantPage = c.wantPage[:0]
	pages := c.ch.pages
	if pages == nil {
		return
	}
	w := 0
	for i := range pages {
		end := c.numRows
		if i+1 < len(pages) {
			end = pages[i+1].FirstRowIndex
		}
		for w < len(wanted) && wanted[w].end <= pages[i].FirstRowIndex {
			w++
		}
		c.wantPage = append(c.wantPage, w < len(wanted) && wanted[w].start < end)
	}
}

// release drops what ties the cursor to a scan and its reader.
func (c *columnCursor) release() {
	c.p, c.col, c.ctx, c.ch = nil, nil, nil, nil
	c.rep, c.def, c.valRaw = nil, nil, nil
	c.hdr = format.PageHeader{}
}

// int32At returns the value of a column without repetition at row; null
// is 0.
func (c *columnCursor) int32At(row int64) (int32, error) {
	present, err := c.flatRow(row)
	if err != nil || !present {
		return 0, err
	}
	return c.vals.i32[c.val-1], nil
}

// int64At is int32At for INT64 columns.
func (c *columnCursor) int64At(row int64) (int64, error) {
	present, err := c.flatRow(row)
	if err != nil || !present {
		return 0, err
	}
	return c.vals.i64[c.val-1], nil
}

// fixed16At is int32At for FIXED_LEN_BYTE_ARRAY(16) columns.
func (c *columnCursor) fixed16At(row int64) (v [16]byte, err error) {
	present, err := c.flatRow(row)
	if err != nil || !present {
		return v, err
	}
	copy(v[:], c.vals.bytes[16*(c.val-1):])
	return v, nil
}

// flatRow moves past row of a column without repetition and reports
// whether it has a value, then at vals[c.val-1].
func (c *columnCursor) flatRow(row int64) (bool, error) {
	if err := c.seek(row); err != nil {
		return false, err
	}
	if err := c.decodeValues(); err != nil {
		return false, err
	}
	present := c.def == nil || c.def[c.lvl] == c.col.maxDef
	c.lvl++
	if present {
		c.val++
	}
	c.row++
	return present, nil
}

// int64sAt returns the list of a repeated INT64 column at row, one entry
// per list element, null elements as 0.
func (c *columnCursor) int64sAt(row int64) ([]int64, error) {
	a, b, va, more, err := c.rowSpan(row)
	if err != nil {
		return nil, err
	}
	if !more {
		vb := va + c.countValues(a, b)
		c.lvl, c.val = b, vb
		c.row++
		switch {
		case vb-va == b-a: // every entry is a non-null element: the common case
			return c.vals.i64[va:vb:vb], nil // appending must not overwrite the next row
		case vb == va && b-a == 1 && c.def[a] < c.col.repDef: // empty list
			return nil, nil
		}
		c.scratch.i64 = c.appendInt64s(c.scratch.i64[:0], a, b, va)
		return c.scratch.i64, nil
	}
	out := c.scratch.i64[:0]
	for {
		out = c.appendInt64s(out, a, b, va)
		if !more {
			break
		}
		if a, b, va, more, err = c.continueRow(); err != nil {
			return nil, err
		}
	}
	c.scratch.i64 = out
	return out, nil
}

func (c *columnCursor) appendInt64s(dst []int64, a, b, va int) []int64 {
	if c.def == nil {
		return append(dst, c.vals.i64[va:va+b-a]...)
	}
	for _, d := range c.def[a:b] {
		switch {
		case d == c.col.maxDef:
			dst = append(dst, c.vals.i64[va])
			va++
		case d >= c.col.repDef:
			dst = append(dst, 0)
		}
	}
	return dst
}

// bytesAt returns the list of a repeated BYTE_ARRAY column at row: element
// k is data[offsets[k]:offsets[k+1]], a null element is empty. offsets has
// one more entry than the list.
func (c *columnCursor) bytesAt(row int64) (data []byte, offsets []uint32, err error) {
	a, b, va, more, err := c.rowSpan(row)
	if err != nil {
		return nil, nil, err
	}
	s := &c.scratch
	s.bytes, s.offsets = s.bytes[:0], append(s.offsets[:0], 0)
	for continued := false; ; continued = true {
		for _, d := range c.def[a:b] {
			switch {
			case d == c.col.maxDef:
				s.bytes = append(s.bytes, c.vals.bytes[c.vals.offsets[va]:c.vals.offsets[va+1]]...)
				s.offsets = append(s.offsets, uint32(len(s.bytes)))
				va++
			case d >= c.col.repDef:
				s.offsets = append(s.offsets, uint32(len(s.bytes)))
			}
		}
		if !more {
			if !continued { // else continueRow has placed the cursor already
				c.lvl, c.val = b, va
				c.row++
			}
			return s.bytes, s.offsets, nil
		}
		if a, b, va, more, err = c.continueRow(); err != nil {
			return nil, nil, err
		}
	}
}

// rowSpan positions the cursor on row and returns its entries [a, b) in
// the current page and the index of its first value. more reports that
// the row may go on in the next page (only without an offset index, where
// data pages v1 may split a row); continueRow then returns the rest.
// The values of the page are decoded.
func (c *columnCursor) rowSpan(row int64) (a, b, va int, more bool, err error) {
	if err = c.seek(row); err != nil {
		return
	}
	if err = c.decodeValues(); err != nil {
		return
	}
	a, va = c.lvl, c.val
	b = c.rowEnd(a)
	more = b == c.entries && c.rep != nil && c.ch.pages == nil && c.nextOff < c.ch.end
	return a, b, va, more, nil
}

// continueRow loads the next page and returns the entries that continue
// the row rowSpan returned, positioning the cursor after them.
func (c *columnCursor) continueRow() (a, b, va int, more bool, err error) {
	if err = c.loadNext(); err != nil {
		return
	}
	if err = c.decodeValues(); err != nil {
		return
	}
	// loadNext placed the cursor on the first row that starts in the page;
	// the entries before it belong to the row being read.
	more = c.pageRows == 0 && c.nextOff < c.ch.end
	return 0, c.lvl, 0, more, nil
}

// rowEnd returns the entry after the row that starts at entry a.
func (c *columnCursor) rowEnd(a int) int {
	if c.rep == nil {
		return a + 1
	}
	if i := bytes.IndexByte(c.rep[a+1:], 0); i >= 0 {
		return a + 1 + i
	}
	return c.entries
}

// countValues returns how many entries in [a, b) have a value.
func (c *columnCursor) countValues(a, b int) int {
	if c.def == nil {
		return b - a
	}
	return bytes.Count(c.def[a:b], []byte{c.col.maxDef})
}

// seek positions the cursor on row, loading the page that holds it.
func (c *columnCursor) seek(row int64) error {
	if c.loaded && row >= c.row && row < c.firstRow+c.pageRows {
		c.skipRows(row - c.row)
		return nil
	}
	if row < 0 || row >= c.numRows || (c.loaded && row < c.row) {
		return fmt.Errorf("row %d out of order or range", row)
	}
	if pages := c.ch.pages; pages != nil {
		p := sort.Search(len(pages), func(i int) bool { return pages[i].FirstRowIndex > row }) - 1
		if err := c.loadIndexed(p); err != nil {
			return err
		}
	} else {
		for !c.loaded || row >= c.firstRow+c.pageRows {
			if err := c.loadNext(); err != nil {
				return err
			}
		}
	}
	c.skipRows(row - c.row)
	return nil
}

func (c *columnCursor) skipRows(n int64) {
	if n == 0 {
		return
	}
	a := c.lvl
	if c.rep == nil {
		c.lvl += int(n)
	} else {
		for range n {
			c.lvl = c.rowEnd(c.lvl)
		}
	}
	c.val += c.countValues(a, c.lvl)
	c.row += n
}

// loadIndexed loads page p of the offset index.
func (c *columnCursor) loadIndexed(p int) error {
	if err := c.ctx.Err(); err != nil {
		return err
	}
	pages := c.ch.pages
	start := pages[p].Offset
	end := start + int64(pages[p].CompressedPageSize)
	// Fetch the wanted pages that follow along with this one.
	ahead := end
	for q := p + 1; q < len(pages) && c.wantPage[q] && pages[q].Offset == ahead && ahead-start < c.p.readAhead; q++ {
		ahead += int64(pages[q].CompressedPageSize)
	}
	from := start
	if p == 0 && c.ch.meta.DictionaryPageOffset > 0 {
		from = c.ch.start // the dictionary page, likely needed
	}
	b, err := c.fetch(from, start, end, ahead)
	if err != nil {
		return err
	}
	lastRow := c.numRows
	if p+1 < len(pages) {
		lastRow = pages[p+1].FirstRowIndex
	}
	isData, n, err := c.decodePage(b, start)
	switch {
	case err != nil:
		return fmt.Errorf("page %d: %w", p, err)
	case !isData || n != len(b):
		return fmt.Errorf("page %d: %w: the offset index does not point at a data page", p, ErrMalformedParquet)
	case c.pageRows != lastRow-pages[p].FirstRowIndex:
		return fmt.Errorf("page %d: %w: %d rows, the offset index says %d", p, ErrMalformedParquet, c.pageRows, lastRow-pages[p].FirstRowIndex)
	case c.rep != nil && c.entries > 0 && c.rep[0] != 0:
		return fmt.Errorf("page %d: %w: does not start a row", p, ErrMalformedParquet)
	}
	c.startPage(pages[p].FirstRowIndex)
	return nil
}

// loadNext loads the page after the current one, when the chunk has no
// offset index.
func (c *columnCursor) loadNext() error {
	for {
		if err := c.ctx.Err(); err != nil {
			return err
		}
		if c.nextOff >= c.ch.end {
			return fmt.Errorf("%w: column chunk ends at row %d of %d", ErrMalformedParquet, c.nextRow, c.numRows)
		}
		b, err := c.fetchPage(c.nextOff)
		if err != nil {
			return err
		}
		isData, n, err := c.decodePage(b, c.nextOff)
		if err != nil {
			return fmt.Errorf("page at offset %d: %w", c.nextOff, err)
		}
		c.nextOff += int64(n)
		if !isData {
			continue
		}
		c.startPage(c.nextRow)
		c.nextRow += c.pageRows
		if c.nextRow > c.numRows {
			return fmt.Errorf("%w: column chunk has more than %d rows", ErrMalformedParquet, c.numRows)
		}
		return nil
	}
}

// startPage places the cursor on the first row that starts in the page
// just decoded, past any entries that continue the previous page's row.
func (c *columnCursor) startPage(firstRow int64) {
	c.loaded = true
	c.firstRow, c.row = firstRow, firstRow
	c.lvl, c.val = 0, 0
	if c.rep != nil && c.entries > 0 && c.rep[0] != 0 {
		k := bytes.IndexByte(c.rep, 0)
		if k < 0 {
			k = c.entries
		}
		c.lvl, c.val = k, c.countValues(0, k)
	}
}

// fetch returns the file bytes [start, end). If they are not in the
// buffer yet, it reads [from, ahead) or as much of it as the chunk holds;
// from <= start <= end.
func (c *columnCursor) fetch(from, start, end, ahead int64) ([]byte, error) {
	if b, ok := c.buffered(start, end); ok {
		return b, nil
	}
	if err := c.ctx.Err(); err != nil {
		return nil, err
	}
	n := int(max(end, min(ahead, c.ch.end)) - from)
	if cap(c.buf) < n {
		c.buf = make([]byte, n)
	}
	c.buf, c.bufOff = c.buf[:n], from
	if err := readFullAt(c.p.r, c.buf, from); err != nil {
		c.buf = c.buf[:0]
		return nil, fmt.Errorf("reading pages: %w", err)
	}
	return c.buf[start-from : end-from], nil
}

// buffered returns the file bytes [start, end) if the buffer holds them.
func (c *columnCursor) buffered(start, end int64) ([]byte, bool) {
	if start >= c.bufOff && end <= c.bufOff+int64(len(c.buf)) {
		return c.buf[start-c.bufOff : end-c.bufOff], true
	}
	return nil, false
}

// fetchPage returns the bytes of the page (header and data) at off, when
// the chunk has no offset index to tell its size.
func (c *columnCursor) fetchPage(off int64) ([]byte, error) {
	probe := min(c.ch.end-off, 64<<10)
	for {
		b, err := c.fetch(off, off, off+probe, off+c.p.readAhead)
		if err != nil {
			return nil, err
		}
		n, err := parquetguard.StructLen(b)
		if errors.Is(err, parquetguard.ErrShort) && off+probe < c.ch.end {
			probe = min(c.ch.end-off, 2*probe)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("page header at offset %d: %w: %w", off, ErrMalformedParquet, err)
		}
		size, err := compressedPageSize(b[:n])
		if err != nil {
			return nil, fmt.Errorf("page header at offset %d: %w", off, err)
		}
		if int64(size) > c.ch.end-off-int64(n) {
			return nil, fmt.Errorf("page at offset %d: %w: %d bytes run past the column chunk", off, ErrMalformedParquet, size)
		}
		return c.fetch(off, off, off+int64(n+size), off+c.p.readAhead)
	}
}

// compressedPageSize decodes the header of a page to learn its size.
func compressedPageSize(hdr []byte) (int, error) {
	var h format.PageHeader
	if err := parquetguard.Unmarshal(hdr, &h); err != nil {
		return 0, fmt.Errorf("%w: %w", ErrMalformedParquet, err)
	}
	if h.CompressedPageSize < 0 {
		return 0, fmt.Errorf("%w: page size %d", ErrMalformedParquet, h.CompressedPageSize)
	}
	return int(h.CompressedPageSize), nil
}

// decodePage decodes the page at the start of b, which is at offset off of
// the file: a data page becomes the current page, with its levels decoded;
// a dictionary page becomes the dictionary. It returns whether it was a
// data page and the page's size.
func (c *columnCursor) decodePage(b []byte, off int64) (isData bool, size int, err error) {
	defer recoverMalformed(&err)
	n, err := parquetguard.StructLen(b)
	if err != nil {
		return false, 0, fmt.Errorf("page header: %w: %w", ErrMalformedParquet, err)
	}
	c.hdr = format.PageHeader{}
	if err := parquetguard.Unmarshal(b[:n], &c.hdr); err != nil {
		return false, 0, fmt.Errorf("page header: %w: %w", ErrMalformedParquet, err)
	}
	h := &c.hdr
	if h.CompressedPageSize < 0 || int(h.CompressedPageSize) > len(b)-n {
		return false, 0, fmt.Errorf("%w: page of %d bytes runs past its column chunk", ErrMalformedParquet, h.CompressedPageSize)
	}
	if h.UncompressedPageSize < 0 || int(h.UncompressedPageSize) > c.p.maxEntries {
		return false, 0, fmt.Errorf("%w: page claims %d bytes uncompressed", ErrMalformedParquet, h.UncompressedPageSize)
	}
	body := b[n : n+int(h.CompressedPageSize)]
	size = n + len(body)
	if h.CRC != 0 && !c.p.crcChecked(off) {
		if crc32.ChecksumIEEE(body) != uint32(h.CRC) {
			return false, 0, fmt.Errorf("%w: page checksum mismatch", ErrMalformedParquet)
		}
		c.p.checkedCRC.Store(off, struct{}{})
	}
	switch h.Type {
	case format.DictionaryPage:
		return false, size, c.decodeDictionary(body)
	case format.DataPage:
		return true, size, c.decodeDataPageV1(body)
	case format.DataPageV2:
		return true, size, c.decodeDataPageV2(body)
	default:
		return false, size, nil // index pages and unknown kinds hold no values
	}
}

func (c *columnCursor) decodeDataPageV1(body []byte) error {
	if !c.hdr.DataPageHeader.Valid {
		return fmt.Errorf("%w: data page without a data page header", ErrMalformedParquet)
	}
	h := &c.hdr.DataPageHeader.V
	data, err := decompressPage(c.ch.meta.Codec, &c.pageData, body, c.hdr.UncompressedPageSize)
	if err != nil {
		return err
	}
	if err := c.checkEntries(h.NumValues); err != nil {
		return err
	}
	if c.col.maxRep > 0 {
		if c.rep, data, err = decodeLevelsV1(&c.repBuf, data, h.RepetitionLevelEncoding, c.col.maxRep, c.entries); err != nil {
			return fmt.Errorf("repetition levels: %w", err)
		}
	} else {
		c.rep = nil
	}
	if c.col.maxDef > 0 {
		if c.def, data, err = decodeLevelsV1(&c.defBuf, data, h.DefinitionLevelEncoding, c.col.maxDef, c.entries); err != nil {
			return fmt.Errorf("definition levels: %w", err)
		}
	} else {
		c.def = nil
	}
	c.valEnc, c.valRaw = h.Encoding, data
	c.countEntries()
	return nil
}

func (c *columnCursor) decodeDataPageV2(body []byte) error {
	if !c.hdr.DataPageHeaderV2.Valid {
		return fmt.Errorf("%w: data page v2 without its header", ErrMalformedParquet)
	}
	h := &c.hdr.DataPageHeaderV2.V
	if err := c.checkEntries(h.NumValues); err != nil {
		return err
	}
	rl, dl := int(h.RepetitionLevelsByteLength), int(h.DefinitionLevelsByteLength)
	if rl < 0 || dl < 0 || rl > len(body) || dl > len(body)-rl {
		return fmt.Errorf("%w: level lengths %d and %d in a page of %d bytes", ErrMalformedParquet, rl, dl, len(body))
	}
	var err error
	c.rep, c.def = nil, nil
	if c.col.maxRep > 0 {
		if c.rep, err = decodeLevels(&c.repBuf, body[:rl], c.col.maxRep, c.entries); err != nil {
			return fmt.Errorf("repetition levels: %w", err)
		}
	}
	if c.col.maxDef > 0 {
		if c.def, err = decodeLevels(&c.defBuf, body[rl:rl+dl], c.col.maxDef, c.entries); err != nil {
			return fmt.Errorf("definition levels: %w", err)
		}
	}
	data := body[rl+dl:]
	if !h.IsCompressed.Valid || h.IsCompressed.V {
		if data, err = decompressPage(c.ch.meta.Codec, &c.pageData, data, c.hdr.UncompressedPageSize-int32(rl+dl)); err != nil {
			return err
		}
	}
	c.valEnc, c.valRaw = h.Encoding, data
	c.countEntries()
	if int64(h.NumRows) != c.pageRows {
		return fmt.Errorf("%w: page says %d rows and holds %d", ErrMalformedParquet, h.NumRows, c.pageRows)
	}
	return nil
}

func (c *columnCursor) checkEntries(n int32) error {
	if n < 0 || int(n) > c.p.maxEntries {
		return fmt.Errorf("%w: page claims %d values", ErrMalformedParquet, n)
	}
	c.entries = int(n)
	return nil
}

// countEntries derives the counts of a page from its levels.
func (c *columnCursor) countEntries() {
	c.valsDone = false
	c.nonNull = c.entries
	if c.def != nil {
		c.nonNull = bytes.Count(c.def, []byte{c.col.maxDef})
	}
	c.pageRows = int64(c.entries)
	if c.rep != nil {
		c.pageRows = int64(bytes.Count(c.rep, []byte{0}))
	}
}

// decodeLevelsV1 decodes a level stream of a data page v1, which starts
// with its length.
func decodeLevelsV1(buf *[]byte, data []byte, enc format.Encoding, maxLevel byte, entries int) (levels, rest []byte, err error) {
	if enc != format.RLE {
		return nil, nil, fmt.Errorf("%w: unsupported level encoding %s", ErrMalformedParquet, enc)
	}
	if len(data) < 4 {
		return nil, nil, fmt.Errorf("%w: levels cut short", ErrMalformedParquet)
	}
	n := binary.LittleEndian.Uint32(data)
	if uint64(n) > uint64(len(data)-4) {
		return nil, nil, fmt.Errorf("%w: levels of %d bytes in %d", ErrMalformedParquet, n, len(data)-4)
	}
	levels, err = decodeLevels(buf, data[4:4+n], maxLevel, entries)
	return levels, data[4+n:], err
}

// decodeLevels decodes an RLE/bit-packed hybrid level stream into *buf.
func decodeLevels(buf *[]byte, src []byte, maxLevel byte, entries int) ([]byte, error) {
	width := levelBitWidth(maxLevel)
	if err := checkRLERuns(src, width, entries); err != nil {
		return nil, err
	}
	enc := rle.Encoding{BitWidth: width}
	levels, err := enc.DecodeLevels((*buf)[:0], src)
	if cap(levels) > cap(*buf) {
		*buf = levels[:0]
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformedParquet, err)
	}
	if len(levels) < entries {
		return nil, fmt.Errorf("%w: %d levels for %d values", ErrMalformedParquet, len(levels), entries)
	}
	return levels[:entries], nil
}

// checkRLERuns checks that the RLE/bit-packed hybrid runs of src decode to
// about want values (bit-packed runs are padded to groups of 8). The
// decoder sizes its output by the run headers before reading the runs.
func checkRLERuns(src []byte, width, want int) error {
	limit := uint64(want) + 8*uint64(len(src))
	var total uint64
	for i := 0; i < len(src); {
		h, n := binary.Uvarint(src[i:])
		if n <= 0 {
			return fmt.Errorf("%w: bad run header", ErrMalformedParquet)
		}
		i += n
		count := h >> 1
		if count > limit {
			return fmt.Errorf("%w: run of %d values where %d are expected", ErrMalformedParquet, count, want)
		}
		size := uint64((width + 7) / 8)
		if h&1 == 1 { // count groups of 8 bit-packed values
			size = count * uint64(width)
			count *= 8
		}
		if size > uint64(len(src)-i) {
			return fmt.Errorf("%w: run cut short", ErrMalformedParquet)
		}
		i += int(size)
		if total += count; total > limit {
			return fmt.Errorf("%w: runs of %d values where %d are expected", ErrMalformedParquet, total, want)
		}
	}
	return nil
}

// decodeValues decodes the values of the current page, once.
func (c *columnCursor) decodeValues() (err error) {
	if c.valsDone {
		return nil
	}
	defer recoverMalformed(&err)
	v, raw, want := &c.vals, c.valRaw, c.nonNull
	var got int
	switch enc := c.valEnc; enc {
	case format.PlainDictionary, format.RLEDictionary:
		if got, err = c.decodeIndexed(raw, want); err != nil {
			return err
		}
	case format.Plain, format.DeltaBinaryPacked, format.DeltaLengthByteArray, format.ByteStreamSplit:
		if want == 0 && len(raw) == 0 {
			break
		}
		if enc == format.DeltaBinaryPacked && c.col.typ == format.Int64 {
			v.i64, err = c.delta.decodeInt64(v.i64, raw, want)
			if err != nil {
				return fmt.Errorf("%w: %w", ErrMalformedParquet, err)
			}
			got = len(v.i64)
			break
		}
		if enc == format.DeltaBinaryPacked || enc == format.DeltaLengthByteArray {
			if err := checkDeltaCount(raw, want); err != nil {
				return fmt.Errorf("%w: %w", ErrMalformedParquet, err)
			}
		}
		e := parquet.LookupEncoding(enc)
		switch c.col.typ {
		case format.Int32:
			v.i32, err = e.DecodeInt32(v.i32[:0], raw)
			got = len(v.i32)
		case format.Int64:
			v.i64, err = e.DecodeInt64(v.i64[:0], raw)
			got = len(v.i64)
		case format.ByteArray:
			v.bytes, v.offsets, err = e.DecodeByteArray(v.bytes[:0], raw, v.offsets[:0])
			got = max(len(v.offsets)-1, 0)
		case format.FixedLenByteArray:
			v.bytes, err = e.DecodeFixedLenByteArray(v.bytes[:0], raw, c.col.typeLen)
			got = len(v.bytes) / c.col.typeLen
		}
		if err != nil {
			return fmt.Errorf("%w: %w", ErrMalformedParquet, err)
		}
	default:
		return fmt.Errorf("%w: unsupported encoding %s", ErrMalformedParquet, enc)
	}
	if got != want {
		return fmt.Errorf("%w: page has %d values for %d non-null entries", ErrMalformedParquet, got, want)
	}
	c.valsDone = true
	return nil
}

// decodeIndexed decodes dictionary indexes and looks them up.
func (c *columnCursor) decodeIndexed(raw []byte, want int) (int, error) {
	if !c.dictLoaded {
		if err := c.loadDictionary(); err != nil {
			return 0, err
		}
	}
	c.idx = c.idx[:0]
	if len(raw) > 0 {
		if raw[0] > 32 {
			return 0, fmt.Errorf("%w: dictionary indexes of %d bits", ErrMalformedParquet, raw[0])
		}
		if err := checkRLERuns(raw[1:], int(raw[0]), want); err != nil {
			return 0, err
		}
		var err error
		if c.idx, err = parquet.LookupEncoding(format.RLEDictionary).DecodeInt32(c.idx, raw); err != nil {
			return 0, fmt.Errorf("%w: %w", ErrMalformedParquet, err)
		}
	}
	if len(c.idx) < want {
		return len(c.idx), nil
	}
	idx := c.idx[:want]
	for _, i := range idx {
		if uint32(i) >= uint32(c.dictLen) {
			return 0, fmt.Errorf("%w: dictionary index %d of %d", ErrMalformedParquet, i, c.dictLen)
		}
	}
	v, d := &c.vals, &c.dict
	switch c.col.typ {
	case format.Int32:
		v.i32 = v.i32[:0]
		for _, i := range idx {
			v.i32 = append(v.i32, d.i32[i])
		}
	case format.Int64:
		v.i64 = v.i64[:0]
		for _, i := range idx {
			v.i64 = append(v.i64, d.i64[i])
		}
	case format.ByteArray:
		v.bytes, v.offsets = v.bytes[:0], append(v.offsets[:0], 0)
		for _, i := range idx {
			v.bytes = append(v.bytes, d.bytes[d.offsets[i]:d.offsets[i+1]]...)
			v.offsets = append(v.offsets, uint32(len(v.bytes)))
		}
	case format.FixedLenByteArray:
		v.bytes = v.bytes[:0]
		for _, i := range idx {
			v.bytes = append(v.bytes, d.bytes[int(i)*c.col.typeLen:int(i+1)*c.col.typeLen]...)
		}
	}
	return want, nil
}

// loadDictionary reads the dictionary page that precedes the first data
// page of a chunk with an offset index. Without one, the dictionary page
// is met when reading the chunk from its start.
func (c *columnCursor) loadDictionary() error {
	pages := c.ch.pages
	if pages == nil || pages[0].Offset <= c.ch.start {
		return fmt.Errorf("%w: dictionary-encoded page without a dictionary", ErrMalformedParquet)
	}
	b, ok := c.buffered(c.ch.start, pages[0].Offset)
	if !ok {
		if err := c.ctx.Err(); err != nil {
			return err
		}
		n := pages[0].Offset - c.ch.start
		if int64(cap(c.dictRaw)) < n {
			c.dictRaw = make([]byte, n)
		}
		b = c.dictRaw[:n]
		if err := readFullAt(c.p.r, b, c.ch.start); err != nil {
			return fmt.Errorf("reading dictionary: %w", err)
		}
	}
	// The current data page's header is kept in c.hdr.
	hdr := c.hdr
	defer func() { c.hdr = hdr }()
	isData, _, err := c.decodePage(b, c.ch.start)
	if err != nil {
		return fmt.Errorf("dictionary page: %w", err)
	}
	if isData || !c.dictLoaded {
		return fmt.Errorf("%w: no dictionary page before the first data page", ErrMalformedParquet)
	}
	return nil
}

func (c *columnCursor) decodeDictionary(body []byte) error {
	if !c.hdr.DictionaryPageHeader.Valid {
		return fmt.Errorf("%w: dictionary page without its header", ErrMalformedParquet)
	}
	h := &c.hdr.DictionaryPageHeader.V
	if h.NumValues < 0 || int(h.NumValues) > c.p.maxEntries {
		return fmt.Errorf("%w: dictionary claims %d values", ErrMalformedParquet, h.NumValues)
	}
	if h.Encoding != format.Plain && h.Encoding != format.PlainDictionary {
		return fmt.Errorf("%w: dictionary encoded with %s", ErrMalformedParquet, h.Encoding)
	}
	data, err := decompressPage(c.ch.meta.Codec, &c.dictData, body, c.hdr.UncompressedPageSize)
	if err != nil {
		return err
	}
	e, d := parquet.LookupEncoding(format.Plain), &c.dict
	var got int
	switch c.col.typ {
	case format.Int32:
		d.i32, err = e.DecodeInt32(d.i32[:0], data)
		got = len(d.i32)
	case format.Int64:
		d.i64, err = e.DecodeInt64(d.i64[:0], data)
		got = len(d.i64)
	case format.ByteArray:
		d.bytes, d.offsets, err = e.DecodeByteArray(d.bytes[:0], data, d.offsets[:0])
		got = max(len(d.offsets)-1, 0)
	case format.FixedLenByteArray:
		d.bytes, err = e.DecodeFixedLenByteArray(d.bytes[:0], data, c.col.typeLen)
		got = len(d.bytes) / c.col.typeLen
	}
	if err != nil {
		return fmt.Errorf("dictionary: %w: %w", ErrMalformedParquet, err)
	}
	if got != int(h.NumValues) {
		return fmt.Errorf("%w: dictionary has %d values, its header says %d", ErrMalformedParquet, got, h.NumValues)
	}
	c.dictLen, c.dictLoaded = got, true
	return nil
}

// decompressPage decompresses src, which must give exactly size bytes,
// into *buf. Each codec is made to stop at size bytes, so that a page
// cannot claim more memory than its header says.
func decompressPage(codec format.CompressionCodec, buf *[]byte, src []byte, size int32) ([]byte, error) {
	if codec == format.Uncompressed {
		return src, nil
	}
	if size < 0 {
		return nil, fmt.Errorf("%w: page claims %d bytes uncompressed", ErrMalformedParquet, size)
	}
	n := int(size)
	if cap(*buf) < n {
		*buf = make([]byte, n)
	}
	dst := (*buf)[:n:n]
	var out []byte
	var err error
	switch codec {
	case format.Snappy:
		var m int
		if m, err = snappy.DecodedLen(src); err == nil && m != n {
			err = fmt.Errorf("%d bytes where the page header says %d", m, n)
		}
		if err == nil {
			out, err = snappy.Decode(dst, src)
		}
	case format.Zstd:
		out, err = zstdDecoder().DecodeAll(src, dst[:0])
	case format.Gzip:
		var zr *gzip.Reader
		if zr, err = gzip.NewReader(bytes.NewReader(src)); err == nil {
			var k int
			if k, err = io.ReadFull(zr, dst); err == nil {
				var one [1]byte
				if m, _ := zr.Read(one[:]); m != 0 {
					err = errors.New("more data than the page header says")
				}
			}
			out = dst[:k]
		}
	default:
		err = fmt.Errorf("unsupported compression %s", codec)
	}
	if err == nil && len(out) != n {
		err = fmt.Errorf("%d bytes where the page header says %d", len(out), n)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: decompressing page: %w", ErrMalformedParquet, err)
	}
	return out, nil
}

// zstdDecoder is shared by all readers: DecodeAll is safe for concurrent
// use, and the cap limit stops it at the size of the output buffer.
var zstdDecoder = sync.OnceValue(func() *zstd.Decoder {
	d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecodeAllCapLimit(true))
	if err != nil {
		panic(err) // only bad options fail
	}
	return d
})

// asUint64s reinterprets values of an unsigned column stored as INT64.
func asUint64s(s []int64) []uint64 {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(s))), len(s))
}
