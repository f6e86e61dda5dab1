package blockreader

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"slices"
	"strings"
	"sync"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"github.com/cinder-profiling/cinder/pkg/parquetguard"
)

// ProfilesFilename is the name of a block's profiles table.
const ProfilesFilename = "profiles.parquet"

// Errors a profiles.parquet can be rejected with. They are wrapped in an
// error that starts with "profiles.parquet: " and says what was read.
var (
	// ErrMissingColumn: a required column (SeriesIndex, TimeNanos,
	// Samples.list.element.StacktraceID or .Value) is absent, or a column
	// the reader knows has an unexpected physical type or nesting.
	ErrMissingColumn = errors.New("missing or unusable column")
	// ErrMalformedParquet: the file's structure or encoded data is invalid.
	ErrMalformedParquet = errors.New("malformed parquet data")
)

// Sizes of the reads the reader makes. Object storage charges per request
// and answers a 1 MiB range about as fast as a 4 KiB one.
const (
	// profilesTailRead is how much of the end of the file OpenProfiles reads
	// at once: the footer and, in files written by parquet-go, the page index
	// right before it.
	profilesTailRead = 64 << 10
	// pageIndexGap is the largest gap between two page-index structures that
	// OpenProfiles reads across rather than making two requests.
	pageIndexGap = 64 << 10
	// DefaultReadAhead is the most a column reader fetches in one request
	// beyond the page it needs (see WithReadAhead), unless told otherwise:
	// at 8 MiB the scans of a query held about 20 MB; 2 MiB still makes a
	// request long enough for object storage to spend most of it
	// transferring.
	DefaultReadAhead = 2 << 20
	// maxEntriesPerByte bounds the number of values a page or a dictionary
	// may claim, per byte of the file. Run-length encoding makes level
	// streams tiny, so a page cannot be bounded by its own size, but no real
	// profiles table has more than a few values per byte of file (the medium
	// test blocks have 0.25).
	maxEntriesPerByte = 64
)

// profileColumn names one of the columns the reader knows, by role.
type profileColumn int

const (
	colSeriesIndex profileColumn = iota
	colTimeNanos
	colPartition
	colTotalValue
	colID
	colStacktraceID
	colValue
	colSpanID
	colAnnotationKey
	colAnnotationValue
	numProfileColumns
)

// profileColumnSpec is what the reader expects of a column: its path in
// the schema (block-format.md §5.2), physical type and nesting.
type profileColumnSpec struct {
	path     string
	typ      format.Type
	typeLen  int  // for FIXED_LEN_BYTE_ARRAY
	repeated bool // inside the Samples or Annotations list
	required bool // the file is unusable without it
}

var profileColumnSpecs = [numProfileColumns]profileColumnSpec{
	colSeriesIndex:     {path: "SeriesIndex", typ: format.Int32, required: true},
	colTimeNanos:       {path: "TimeNanos", typ: format.Int64, required: true},
	colPartition:       {path: "StacktracePartition", typ: format.Int64},
	colTotalValue:      {path: "TotalValue", typ: format.Int64},
	colID:              {path: "ID", typ: format.FixedLenByteArray, typeLen: 16},
	colStacktraceID:    {path: "Samples.list.element.StacktraceID", typ: format.Int64, repeated: true, required: true},
	colValue:           {path: "Samples.list.element.Value", typ: format.Int64, repeated: true, required: true},
	colSpanID:          {path: "Samples.list.element.SpanID", typ: format.Int64, repeated: true},
	colAnnotationKey:   {path: "Annotations.list.element.Key", typ: format.ByteArray, repeated: true},
	colAnnotationValue: {path: "Annotations.list.element.Value", typ: format.ByteArray, repeated: true},
}

func (c profileColumn) String() string { return profileColumnSpecs[c].path }

// leafColumn is a resolved leaf of the schema.
type leafColumn struct {
	role    profileColumn
	index   int // position among the leaves: the column chunk's index in a row group
	typ     format.Type
	typeLen int
	maxRep  byte
	maxDef  byte
	// repDef is the definition level of the innermost repeated ancestor: an
	// entry with a lower level is an empty list, not an element. For a
	// column that is not repeated it is 0.
	repDef byte
}

// rowGroupInfo is what Scan needs to know of one row group.
type rowGroupInfo struct {
	firstRow int64 // in the file
	numRows  int64
	chunks   [numProfileColumns]chunkInfo
}

// chunkInfo is a column chunk of a known column.
type chunkInfo struct {
	meta       *format.ColumnMetaData
	start, end int64 // byte range of all its pages, dictionary included
	// pages is the offset index: where each data page starts and its first
	// row. Nil when the file has none for this chunk.
	pages []format.PageLocation
	// statsMin and statsMax are the chunk's min/max statistics, valid when
	// statsOK. Only kept for SeriesIndex (as uint32) and TimeNanos.
	statsMin, statsMax int64
	statsOK            bool
	// pageMin, pageMax and pageOK are the column index, one entry per page
	// of pages. Only kept for SeriesIndex and TimeNanos.
	pageMin, pageMax []int64
	pageOK           []bool
}

// ProfilesReader reads a block's profiles.parquet with ranged reads: one
// row per profile and sample type, holding the stack-trace IDs and values
// of its samples (block-format.md §5).
//
// OpenProfiles reads the footer and page index once; Scan reads only the
// pages of the columns it is asked for that can hold selected rows. A
// ProfilesReader is immutable and safe for concurrent use.
type ProfilesReader struct {
	r         io.ReaderAt
	size      int64
	numRows   int64
	columns   [numProfileColumns]*leafColumn // nil when absent
	rowGroups []rowGroupInfo
	// maxEntries bounds the values of any page or dictionary (see
	// maxEntriesPerByte).
	maxEntries int
	// readAhead is the most a column reader fetches beyond the page it
	// needs (see WithReadAhead).
	readAhead int64
	// checkedCRC holds the offsets of the pages whose checksum matched
	// once. The file is immutable, and its pages are read again by every
	// query: checking a page once is enough.
	checkedCRC sync.Map // int64 → struct{}
}

// crcChecked reports whether the page at offset off had its checksum
// checked.
func (p *ProfilesReader) crcChecked(off int64) bool {
	_, ok := p.checkedCRC.Load(off)
	return ok
}

// OpenProfiles reads the footer of a profiles.parquet of size bytes and, if
// present, its page index, and resolves the columns by path. It fails with
// an error wrapping ErrMissingColumn if a required column is missing or has
// an unexpected type, and ErrMalformedParquet if the footer is damaged.
func OpenProfiles(r io.ReaderAt, size int64, opts ...ProfilesOption) (*ProfilesReader, error) {
	p, err := openProfiles(r, size)
	if err != nil {
		return nil, fmt.Errorf("profiles.parquet: %w", err)
	}
	p.readAhead = DefaultReadAhead
	for _, o := range opts {
		o(p)
	}
	return p, nil
}

// ProfilesOption configures a ProfilesReader.
type ProfilesOption func(*ProfilesReader)

// WithReadAhead sets the most a column reader fetches in one request
// beyond the page it needs: the following pages it will need, or the next
// part of a column chunk that has no offset index. Each column a scan
// reads holds a buffer that large. Object storage wants long requests
// (DefaultReadAhead); a local file, read through the operating system's
// cache, does as well with short ones and less memory. n ≤ 0 keeps the
// default.
func WithReadAhead(n int64) ProfilesOption {
	return func(p *ProfilesReader) {
		if n > 0 {
			p.readAhead = n
		}
	}
}

func openProfiles(r io.ReaderAt, size int64) (*ProfilesReader, error) {
	const magic = "PAR1"
	if size < 12 {
		return nil, fmt.Errorf("%w: file of %d bytes is too short", ErrMalformedParquet, size)
	}
	tail := make([]byte, min(size, profilesTailRead))
	tailStart := size - int64(len(tail))
	if err := readFullAt(r, tail, tailStart); err != nil {
		return nil, fmt.Errorf("reading footer: %w", err)
	}
	switch string(tail[len(tail)-4:]) {
	case magic:
	case "PARE":
		return nil, fmt.Errorf("%w: encrypted footers are not supported", ErrMalformedParquet)
	default:
		return nil, fmt.Errorf("%w: no parquet magic at the end", ErrMalformedParquet)
	}
	if tailStart == 0 && string(tail[:4]) != magic {
		return nil, fmt.Errorf("%w: no parquet magic at the start", ErrMalformedParquet)
	}
	footerLen := int64(binary.LittleEndian.Uint32(tail[len(tail)-8:]))
	if footerLen > size-12 {
		return nil, fmt.Errorf("%w: footer of %d bytes in a file of %d", ErrMalformedParquet, footerLen, size)
	}
	footerStart := size - 8 - footerLen
	var footer []byte
	if footerStart >= tailStart {
		footer = tail[footerStart-tailStart : len(tail)-8]
	} else {
		footer = make([]byte, footerLen)
		if err := readFullAt(r, footer, footerStart); err != nil {
			return nil, fmt.Errorf("reading footer: %w", err)
		}
	}
	var meta format.FileMetaData
	if err := parquetguard.Unmarshal(footer, &meta); err != nil {
		return nil, fmt.Errorf("footer: %w: %w", ErrMalformedParquet, err)
	}

	p := &ProfilesReader{r: r, size: size, maxEntries: int(min(size*maxEntriesPerByte, 1<<31-1))}
	leaves, err := schemaLeaves(meta.Schema)
	if err != nil {
		return nil, err
	}
	for c := range numProfileColumns {
		leaf, err := resolveColumn(leaves, c)
		if err != nil {
			return nil, err
		}
		p.columns[c] = leaf
	}
	if (p.columns[colAnnotationKey] == nil) != (p.columns[colAnnotationValue] == nil) {
		return nil, fmt.Errorf("%w: only one of the annotation key and value columns exists", ErrMissingColumn)
	}
	if err := p.initRowGroups(&meta, len(leaves), footerStart); err != nil {
		return nil, err
	}
	if err := p.readPageIndex(&meta, tail, tailStart, footerStart); err != nil {
		return nil, err
	}
	return p, nil
}

// schemaLeaf is a leaf of the schema with its dotted path and the levels
// the path gives it.
type schemaLeaf struct {
	path           string
	elem           *format.SchemaElement
	maxRep, maxDef byte
	repDef         byte
}

// schemaLeaves flattens the depth-first schema of a parquet footer into its
// leaf columns, in column-chunk order.
func schemaLeaves(schema []format.SchemaElement) ([]schemaLeaf, error) {
	if len(schema) == 0 {
		return nil, fmt.Errorf("%w: empty schema", ErrMalformedParquet)
	}
	var leaves []schemaLeaf
	next := 1
	var walk func(prefix string, numChildren int, rep, def, repDef byte, depth int) error
	walk = func(prefix string, numChildren int, rep, def, repDef byte, depth int) error {
		if depth > parquet.MaxColumnDepth {
			return fmt.Errorf("%w: schema nested deeper than %d", ErrMalformedParquet, parquet.MaxColumnDepth)
		}
		for range numChildren {
			if next >= len(schema) {
				return fmt.Errorf("%w: schema has fewer elements than its groups claim", ErrMalformedParquet)
			}
			e := &schema[next]
			next++
			path := e.Name
			if prefix != "" {
				path = prefix + "." + e.Name
			}
			r, d, rd := rep, def, repDef
			switch e.RepetitionType.V {
			case format.Optional:
				d++
			case format.Repeated:
				r++
				d++
				rd = d
			}
			if r < rep || d < def { // wrapped around
				return fmt.Errorf("%w: schema nested too deep", ErrMalformedParquet)
			}
			if e.NumChildren.V > 0 {
				if int(e.NumChildren.V) > len(schema)-next {
					return fmt.Errorf("%w: schema group %q claims %d children", ErrMalformedParquet, path, e.NumChildren.V)
				}
				if err := walk(path, int(e.NumChildren.V), r, d, rd, depth+1); err != nil {
					return err
				}
				continue
			}
			if !e.Type.Valid {
				return fmt.Errorf("%w: schema leaf %q has no type", ErrMalformedParquet, path)
			}
			leaves = append(leaves, schemaLeaf{path: path, elem: e, maxRep: r, maxDef: d, repDef: rd})
		}
		return nil
	}
	root := schema[0].NumChildren.V
	if root < 0 || int(root) > len(schema)-1 {
		return nil, fmt.Errorf("%w: schema root claims %d children", ErrMalformedParquet, root)
	}
	if err := walk("", int(root), 0, 0, 0, 0); err != nil {
		return nil, err
	}
	if next != len(schema) {
		return nil, fmt.Errorf("%w: schema has %d elements outside the root", ErrMalformedParquet, len(schema)-next)
	}
	return leaves, nil
}

// resolveColumn finds column c among the leaves and checks its type.
func resolveColumn(leaves []schemaLeaf, c profileColumn) (*leafColumn, error) {
	spec := profileColumnSpecs[c]
	i := slices.IndexFunc(leaves, func(l schemaLeaf) bool { return l.path == spec.path })
	if i < 0 {
		if spec.required {
			return nil, fmt.Errorf("%w: no column %s", ErrMissingColumn, spec.path)
		}
		return nil, nil
	}
	l := leaves[i]
	typ := l.elem.Type.V
	switch {
	case typ != spec.typ:
		return nil, fmt.Errorf("%w: column %s has type %s, want %s", ErrMissingColumn, spec.path, typ, spec.typ)
	case spec.typeLen != 0 && int(l.elem.TypeLength.V) != spec.typeLen:
		return nil, fmt.Errorf("%w: column %s has length %d, want %d", ErrMissingColumn, spec.path, l.elem.TypeLength.V, spec.typeLen)
	case spec.repeated && l.maxRep != 1, !spec.repeated && l.maxRep != 0:
		return nil, fmt.Errorf("%w: column %s has repetition level %d", ErrMissingColumn, spec.path, l.maxRep)
	case (c == colSeriesIndex || c == colTimeNanos) && l.maxDef != 0:
		return nil, fmt.Errorf("%w: column %s is not required", ErrMissingColumn, spec.path)
	}
	return &leafColumn{
		role:    c,
		index:   i,
		typ:     typ,
		typeLen: int(l.elem.TypeLength.V),
		maxRep:  l.maxRep,
		maxDef:  l.maxDef,
		repDef:  l.repDef,
	}, nil
}

// initRowGroups checks the row groups and the column chunks of the known
// columns against the schema and the file size.
func (p *ProfilesReader) initRowGroups(meta *format.FileMetaData, numLeaves int, footerStart int64) error {
	p.rowGroups = make([]rowGroupInfo, len(meta.RowGroups))
	var rows int64
	for g := range meta.RowGroups {
		rg := &meta.RowGroups[g]
		info := &p.rowGroups[g]
		if rg.NumRows < 0 || rg.NumRows > footerStart {
			return fmt.Errorf("%w: row group %d has %d rows", ErrMalformedParquet, g, rg.NumRows)
		}
		if len(rg.Columns) != numLeaves {
			return fmt.Errorf("%w: row group %d has %d column chunks for %d columns", ErrMalformedParquet, g, len(rg.Columns), numLeaves)
		}
		info.firstRow, info.numRows = rows, rg.NumRows
		rows += rg.NumRows
		for c, col := range p.columns {
			if col == nil {
				continue
			}
			if err := p.initChunk(&info.chunks[c], &rg.Columns[col.index], col, rg.NumRows, footerStart); err != nil {
				return fmt.Errorf("row group %d: column %s: %w", g, col.role, err)
			}
		}
	}
	if rows != meta.NumRows {
		return fmt.Errorf("%w: row groups hold %d rows, the footer says %d", ErrMalformedParquet, rows, meta.NumRows)
	}
	p.numRows = rows
	return nil
}

func (p *ProfilesReader) initChunk(info *chunkInfo, cc *format.ColumnChunk, col *leafColumn, numRows, footerStart int64) error {
	m := &cc.MetaData
	switch {
	case cc.FilePath != "":
		return fmt.Errorf("%w: column chunk in another file (%q)", ErrMalformedParquet, cc.FilePath)
	case len(cc.EncryptedColumnMetadata) > 0:
		return fmt.Errorf("%w: encrypted column chunk", ErrMalformedParquet)
	case m.Type != col.typ:
		return fmt.Errorf("%w: column chunk has type %s, the schema says %s", ErrMalformedParquet, m.Type, col.typ)
	case strings.Join(m.PathInSchema, ".") != col.role.String():
		return fmt.Errorf("%w: column chunk has path %q", ErrMalformedParquet, strings.Join(m.PathInSchema, "."))
	case m.NumValues < 0 || m.NumValues > int64(p.maxEntries):
		return fmt.Errorf("%w: column chunk claims %d values", ErrMalformedParquet, m.NumValues)
	case numRows > 0 && m.NumValues < numRows:
		return fmt.Errorf("%w: column chunk has %d values for %d rows", ErrMalformedParquet, m.NumValues, numRows)
	}
	if !supportedCodec(m.Codec) {
		return fmt.Errorf("%w: unsupported compression %s", ErrMalformedParquet, m.Codec)
	}
	start := m.DataPageOffset
	if m.DictionaryPageOffset > 0 && m.DictionaryPageOffset < start {
		start = m.DictionaryPageOffset
	}
	if start < 4 || m.TotalCompressedSize < 0 || m.TotalCompressedSize > footerStart-start {
		return fmt.Errorf("%w: column chunk at [%d, +%d) is outside the data of the file", ErrMalformedParquet, start, m.TotalCompressedSize)
	}
	info.meta = m
	info.start, info.end = start, start+m.TotalCompressedSize
	switch col.role {
	case colSeriesIndex:
		lo, lok := statInt(m.Statistics.MinValue, 4)
		hi, hok := statInt(m.Statistics.MaxValue, 4)
		info.statsMin, info.statsMax = int64(uint32(lo)), int64(uint32(hi))
		// An unsigned column written with signed statistics would show
		// min > max; such statistics cannot prune anything.
		info.statsOK = lok && hok && info.statsMin <= info.statsMax
	case colTimeNanos:
		info.statsMin, info.statsOK = statInt(m.Statistics.MinValue, 8)
		hi, hok := statInt(m.Statistics.MaxValue, 8)
		info.statsMax = hi
		info.statsOK = info.statsOK && hok && info.statsMin <= info.statsMax
	}
	return nil
}

func supportedCodec(c format.CompressionCodec) bool {
	switch c {
	case format.Uncompressed, format.Snappy, format.Gzip, format.Zstd:
		return true
	}
	return false
}

// statInt decodes a little-endian INT32 (size 4) or INT64 (size 8)
// statistic, sign-extending INT32.
func statInt(b []byte, size int) (int64, bool) {
	switch {
	case len(b) != size:
		return 0, false
	case size == 4:
		return int64(int32(binary.LittleEndian.Uint32(b))), true
	default:
		return int64(binary.LittleEndian.Uint64(b)), true
	}
}

// pageIndexRef is one page-index structure to read.
type pageIndexRef struct {
	off, len   int64
	group      int
	column     profileColumn
	isColIndex bool
}

// readPageIndex reads the offset index of every known column chunk and the
// column index of SeriesIndex and TimeNanos, where the file has them.
func (p *ProfilesReader) readPageIndex(meta *format.FileMetaData, tail []byte, tailStart, footerStart int64) error {
	var refs []pageIndexRef
	add := func(g int, c profileColumn, off int64, n int32, isColIndex bool) error {
		if off == 0 && n == 0 {
			return nil
		}
		if off < 4 || n <= 0 || int64(n) > footerStart-off {
			return fmt.Errorf("%w: row group %d: column %s: page index at [%d, +%d) is outside the data of the file", ErrMalformedParquet, g, c, off, n)
		}
		refs = append(refs, pageIndexRef{off: off, len: int64(n), group: g, column: c, isColIndex: isColIndex})
		return nil
	}
	for g := range meta.RowGroups {
		if p.rowGroups[g].numRows == 0 {
			continue
		}
		for c, col := range p.columns {
			if col == nil {
				continue
			}
			cc := &meta.RowGroups[g].Columns[col.index]
			if err := add(g, profileColumn(c), cc.OffsetIndexOffset, cc.OffsetIndexLength, false); err != nil {
				return err
			}
			if c == int(colSeriesIndex) || c == int(colTimeNanos) {
				if err := add(g, profileColumn(c), cc.ColumnIndexOffset, cc.ColumnIndexLength, true); err != nil {
					return err
				}
			}
		}
	}
	slices.SortFunc(refs, func(a, b pageIndexRef) int { return cmp.Compare(a.off, b.off) })
	// Read runs of nearby structures together; the tail read usually holds
	// all of them already.
	var buf []byte
	var bufStart int64
	for i := 0; i < len(refs); {
		ref := refs[i]
		if ref.off < bufStart || ref.off+ref.len > bufStart+int64(len(buf)) {
			if ref.off >= tailStart {
				buf, bufStart = tail, tailStart
			} else {
				end := ref.off + ref.len
				for _, next := range refs[i+1:] {
					if next.off > end+pageIndexGap || next.off+next.len > tailStart {
						break
					}
					end = max(end, next.off+next.len)
				}
				buf, bufStart = make([]byte, end-ref.off), ref.off
				if err := readFullAt(p.r, buf, bufStart); err != nil {
					return fmt.Errorf("reading page index: %w", err)
				}
			}
		}
		b := buf[ref.off-bufStart : ref.off-bufStart+ref.len]
		if err := p.decodePageIndex(ref, b); err != nil {
			return fmt.Errorf("row group %d: column %s: %w", ref.group, ref.column, err)
		}
		i++
	}
	// A column index is no use without the offset index that gives its
	// pages' rows.
	for g := range p.rowGroups {
		for c := range p.rowGroups[g].chunks {
			ch := &p.rowGroups[g].chunks[c]
			if ch.pageOK != nil && len(ch.pageOK) != len(ch.pages) {
				if ch.pages != nil {
					return fmt.Errorf("%w: row group %d: column %s: column index has %d pages, offset index %d", ErrMalformedParquet, g, profileColumn(c), len(ch.pageOK), len(ch.pages))
				}
				ch.pageMin, ch.pageMax, ch.pageOK = nil, nil, nil
			}
		}
	}
	return nil
}

func (p *ProfilesReader) decodePageIndex(ref pageIndexRef, b []byte) error {
	rg := &p.rowGroups[ref.group]
	ch := &rg.chunks[ref.column]
	if !ref.isColIndex {
		var oi format.OffsetIndex
		if err := parquetguard.Unmarshal(b, &oi); err != nil {
			return fmt.Errorf("offset index: %w: %w", ErrMalformedParquet, err)
		}
		if err := checkOffsetIndex(oi.PageLocations, ch, rg.numRows); err != nil {
			return fmt.Errorf("offset index: %w", err)
		}
		ch.pages = oi.PageLocations
		return nil
	}
	var ci format.ColumnIndex
	if err := parquetguard.Unmarshal(b, &ci); err != nil {
		return fmt.Errorf("column index: %w: %w", ErrMalformedParquet, err)
	}
	n := len(ci.NullPages)
	if len(ci.MinValues) != n || len(ci.MaxValues) != n {
		return fmt.Errorf("column index: %w: %d null flags, %d minimums, %d maximums", ErrMalformedParquet, n, len(ci.MinValues), len(ci.MaxValues))
	}
	size := 8
	if ref.column == colSeriesIndex {
		size = 4
	}
	ch.pageMin, ch.pageMax, ch.pageOK = make([]int64, n), make([]int64, n), make([]bool, n)
	for i := range n {
		lo, lok := statInt(ci.MinValues[i], size)
		hi, hok := statInt(ci.MaxValues[i], size)
		if size == 4 {
			lo, hi = int64(uint32(lo)), int64(uint32(hi))
		}
		ch.pageMin[i], ch.pageMax[i] = lo, hi
		ch.pageOK[i] = lok && hok && lo <= hi && !ci.NullPages[i]
	}
	return nil
}

// checkOffsetIndex checks that pages start at row 0, in row and file order,
// inside their column chunk.
func checkOffsetIndex(pages []format.PageLocation, ch *chunkInfo, numRows int64) error {
	if len(pages) == 0 {
		return fmt.Errorf("%w: no pages for %d rows", ErrMalformedParquet, numRows)
	}
	off := ch.start
	for i, pl := range pages {
		switch {
		case i == 0 && pl.FirstRowIndex != 0:
			return fmt.Errorf("%w: first page starts at row %d", ErrMalformedParquet, pl.FirstRowIndex)
		case i > 0 && pl.FirstRowIndex <= pages[i-1].FirstRowIndex, pl.FirstRowIndex >= numRows:
			return fmt.Errorf("%w: page %d starts at row %d", ErrMalformedParquet, i, pl.FirstRowIndex)
		case pl.Offset < off || pl.CompressedPageSize <= 0 || int64(pl.CompressedPageSize) > ch.end-pl.Offset:
			return fmt.Errorf("%w: page %d at [%d, +%d) is outside its column chunk [%d, %d)", ErrMalformedParquet, i, pl.Offset, pl.CompressedPageSize, ch.start, ch.end)
		}
		off = pl.Offset + int64(pl.CompressedPageSize)
	}
	return nil
}

// NumRows returns the number of rows (profiles × sample types) in the file.
func (p *ProfilesReader) NumRows() int64 { return p.numRows }

// NumRowGroups returns the number of row groups in the file.
func (p *ProfilesReader) NumRowGroups() int { return len(p.rowGroups) }

// HasTotalValue reports whether the file stores TotalValue (meta v3).
// Without it, Scan computes the value from the samples.
func (p *ProfilesReader) HasTotalValue() bool { return p.columns[colTotalValue] != nil }

// HasPartition reports whether the file stores StacktracePartition (meta
// v2 and later).
func (p *ProfilesReader) HasPartition() bool { return p.columns[colPartition] != nil }

// HasSpanID reports whether the samples carry span IDs (current writers).
func (p *ProfilesReader) HasSpanID() bool { return p.columns[colSpanID] != nil }

// HasAnnotations reports whether the file has profile annotations.
func (p *ProfilesReader) HasAnnotations() bool { return p.columns[colAnnotationKey] != nil }

// readFullAt reads len(b) bytes at off, treating a short read as an error.
func readFullAt(r io.ReaderAt, b []byte, off int64) error {
	n, err := r.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("%d bytes at %d: %w", len(b), off, err)
}

// recoverMalformed turns a panic in a decoder of untrusted bytes into an
// error. parquet-go's decoders are stateless, so nothing is left broken.
func recoverMalformed(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%w: decoder panicked: %v", ErrMalformedParquet, r)
	}
}

// levelBitWidth is the bit width of the RLE encoding of levels up to max.
func levelBitWidth(max byte) int { return bits.Len8(max) }
