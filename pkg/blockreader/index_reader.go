package blockreader

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/cinder-profiling/cinder/pkg/encoding"
)

// IndexFilename is the name of a block's series index.
const IndexFilename = "index.tsdb"

// Layout constants of index.tsdb (block-format.md §4).
const (
	indexMagic       = 0xBAAAD700
	indexFormatV1    = 1 // Prometheus v1 semantics (offsets as refs); accepted by Pyroscope, never written.
	indexFormatV2    = 2
	indexHeaderSize  = 5
	indexTOCSize     = 76
	seriesAlignment  = 16 // a series ref is its entry's offset / 16
	listAlignment    = 4  // label indices and postings lists start 4-aligned
	minChunkMetaSize = 8  // varint, uvarint, uvarint, uvarint, BE32
)

// Sections of index.tsdb as IndexError names them.
const (
	sectionHeader            = "header"
	sectionTOC               = "TOC"
	sectionSymbols           = "symbol table"
	sectionSeries            = "series entry"
	sectionLabelIndex        = "label index"
	sectionPostings          = "postings list"
	sectionLabelIndicesTable = "label indices table"
	sectionPostingsTable     = "postings offset table"
	sectionFingerprints      = "fingerprint offsets table"
)

// Errors an index.tsdb can be rejected with, wrapped in an *IndexError.
var (
	ErrIndexMagic   = errors.New("bad magic number, not an index.tsdb")
	ErrIndexVersion = errors.New("unsupported index format version")
	// ErrChecksum is a CRC32C mismatch. It is encoding.ErrChecksum, the
	// error symdb reports too.
	ErrChecksum = encoding.ErrChecksum
)

// IndexError reports which part of an index.tsdb failed to decode. Section
// is one of "header", "TOC", "symbol table", "series entry", "label index",
// "postings list", "label indices table", "postings offset table" and
// "fingerprint offsets table"; Detail, when set, says which entry.
type IndexError struct {
	Section string
	Detail  string
	Err     error
}

// Error says where the index was bad: "index.tsdb: <section> (<detail>): <cause>".
func (e *IndexError) Error() string {
	if e.Detail == "" {
		return "index.tsdb: " + e.Section + ": " + e.Err.Error()
	}
	return "index.tsdb: " + e.Section + " (" + e.Detail + "): " + e.Err.Error()
}

// Unwrap returns the cause, so that errors.Is finds ErrChecksum and the like.
func (e *IndexError) Unwrap() error { return e.Err }

func indexErr(section string, err error) error {
	return &IndexError{Section: section, Err: err}
}

func indexErrf(section, detail string, err error) error {
	return &IndexError{Section: section, Detail: detail, Err: err}
}

// Label is one name/value pair of a series.
type Label struct{ Name, Value string }

// Labels is a series' label set in stored order. That order is usually by
// name, but series ingested with the __order__="enforced" hint put
// __profile_type__ and __service_name__ first, so do not rely on it.
type Labels []Label

// Get returns the value of the label called name.
func (ls Labels) Get(name string) (string, bool) {
	for _, l := range ls {
		if l.Name == name {
			return l.Value, true
		}
	}
	return "", false
}

// SeriesRef identifies a series entry of one index: its offset / 16, the
// value stored in postings lists. It is not the series' ordinal; that is
// Series.SeriesIndex.
type SeriesRef uint32

// Series is one decoded series entry.
type Series struct {
	Labels      Labels
	Fingerprint uint64
	// SeriesIndex is the series' ordinal in the index (from chunk meta #0)
	// and the value of the SeriesIndex column of its profiles.parquet rows.
	SeriesIndex uint32
	// MinTime and MaxTime are the first and last profile timestamps of the
	// series in the block, in nanoseconds (chunk meta #0 to the last one).
	MinTime, MaxTime int64
}

// IndexTOC is the table of contents at the end of an index.tsdb: the
// absolute offsets of its sections (before their alignment padding) and the
// time range of its series.
type IndexTOC struct {
	Symbols            uint64
	Series             uint64
	LabelIndices       uint64
	LabelIndicesTable  uint64
	Postings           uint64
	PostingsTable      uint64
	FingerprintOffsets uint64
	// From and Through are the smallest chunk MinTime and the largest chunk
	// MaxTime over all series, in nanoseconds.
	From, Through int64
}

// indexLayout holds the section bounds of a checked TOC as ints, in physical
// order. Each section ends where the next one begins.
type indexLayout struct {
	symbols, series, labelIndices, postings, labelIndicesTable, postingsTable, fingerprints, toc int
}

// IndexReader answers label and series lookups on an index.tsdb held in
// memory. It is immutable once built and safe for concurrent use.
type IndexReader struct {
	b      []byte
	toc    IndexTOC
	layout indexLayout

	// symbols are the symbol table, in order; a symbol ref is an index into
	// it. Every string is a substring of one copy of the table.
	symbols []string

	// The postings offset table, grouped by name: names[i] has the values
	// values[nameStart[i]:nameStart[i+1]], in ascending order, whose
	// postings lists start at the same positions of listOffsets.
	names       []string
	nameStart   []int
	values      []string
	listOffsets []int

	allPostings int // offset of the ("", "") list; 0, inside the header, if there is none
	numSeries   int
}

// NewIndexReader checks the header, the TOC and its CRC, decodes the symbol
// table and the postings offset table (checking their CRCs) and builds the
// lookups. The other sections are read on demand; Validate checks them all.
//
// It keeps b, which the caller must not modify afterwards. It never panics
// and never allocates much more than len(b), whatever b holds; every error
// is an *IndexError naming the section that was bad.
func NewIndexReader(b []byte) (*IndexReader, error) {
	r := &IndexReader{b: b}
	if err := r.readHeader(); err != nil {
		return nil, err
	}
	if err := r.readTOC(); err != nil {
		return nil, err
	}
	if err := r.readSymbols(); err != nil {
		return nil, err
	}
	if err := r.readPostingsTable(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *IndexReader) readHeader() error {
	if len(r.b) < indexHeaderSize+indexTOCSize {
		return indexErr(sectionHeader, fmt.Errorf("file of %d bytes is too short for header and TOC (%d bytes): %w",
			len(r.b), indexHeaderSize+indexTOCSize, encoding.ErrShortData))
	}
	if m := binary.BigEndian.Uint32(r.b); m != indexMagic {
		return indexErr(sectionHeader, fmt.Errorf("%w: %08x", ErrIndexMagic, m))
	}
	switch v := r.b[4]; v {
	case indexFormatV2:
		return nil
	case indexFormatV1:
		return indexErr(sectionHeader, fmt.Errorf("%w: 1 (offset-based refs, never written by Pyroscope)", ErrIndexVersion))
	default:
		return indexErr(sectionHeader, fmt.Errorf("%w: %d", ErrIndexVersion, v))
	}
}

func (r *IndexReader) readTOC() error {
	tocStart := len(r.b) - indexTOCSize
	t := r.b[tocStart:]
	want := binary.BigEndian.Uint32(t[indexTOCSize-4:])
	if err := encoding.VerifyCRC32C(t[:indexTOCSize-4], want); err != nil {
		return indexErr(sectionTOC, err)
	}
	d := encoding.Decbuf{B: t[:indexTOCSize-4]}
	r.toc = IndexTOC{
		Symbols:            d.Be64(),
		Series:             d.Be64(),
		LabelIndices:       d.Be64(),
		LabelIndicesTable:  d.Be64(),
		Postings:           d.Be64(),
		PostingsTable:      d.Be64(),
		FingerprintOffsets: d.Be64(),
		From:               int64(d.Be64()),
		Through:            int64(d.Be64()),
	}
	// Physical order differs from TOC order: postings precede the label
	// indices table.
	order := []struct {
		name string
		off  uint64
	}{
		{"Symbols", r.toc.Symbols},
		{"Series", r.toc.Series},
		{"LabelIndices", r.toc.LabelIndices},
		{"Postings", r.toc.Postings},
		{"LabelIndicesTable", r.toc.LabelIndicesTable},
		{"PostingsTable", r.toc.PostingsTable},
		{"FingerprintOffsets", r.toc.FingerprintOffsets},
		{"TOC", uint64(tocStart)},
	}
	prev := uint64(indexHeaderSize)
	for i, s := range order {
		switch {
		case s.off >= prev:
		case i == 0:
			return indexErr(sectionTOC, fmt.Errorf("Symbols offset %d is inside the header", s.off))
		case i == len(order)-1:
			return indexErr(sectionTOC, fmt.Errorf("%s offset %d is past the TOC at %d", order[i-1].name, prev, s.off))
		default:
			return indexErr(sectionTOC, fmt.Errorf("%s offset %d is before %s offset %d", s.name, s.off, order[i-1].name, prev))
		}
		prev = s.off
	}
	// Every offset is now at most tocStart, so it fits an int.
	r.layout = indexLayout{
		symbols:           int(r.toc.Symbols),
		series:            int(r.toc.Series),
		labelIndices:      int(r.toc.LabelIndices),
		postings:          int(r.toc.Postings),
		labelIndicesTable: int(r.toc.LabelIndicesTable),
		postingsTable:     int(r.toc.PostingsTable),
		fingerprints:      int(r.toc.FingerprintOffsets),
		toc:               tocStart,
	}
	return nil
}

func (r *IndexReader) readSymbols() error {
	content, _, err := encoding.ReadCRCSection(r.b, r.layout.symbols, r.layout.series)
	if err != nil {
		return indexErr(sectionSymbols, err)
	}
	d := encoding.Decbuf{B: content}
	n := d.Count(1) // a symbol takes at least its length byte
	if d.Err() != nil {
		return indexErr(sectionSymbols, d.Err())
	}
	// One copy of the table; every symbol is a substring of it, so decoded
	// labels cost no allocation.
	table := string(d.B)
	r.symbols = make([]string, 0, n)
	for i := 0; i < n; i++ {
		l := d.Uvarint()
		start := len(table) - d.Len()
		d.Bytes(l)
		if d.Err() != nil {
			return indexErrf(sectionSymbols, fmt.Sprintf("symbol %d", i), d.Err())
		}
		s := table[start : start+l]
		if i > 0 && r.symbols[i-1] >= s {
			return indexErrf(sectionSymbols, fmt.Sprintf("symbol %d", i),
				fmt.Errorf("symbols not strictly ascending: %q after %q", s, r.symbols[i-1]))
		}
		r.symbols = append(r.symbols, s)
	}
	if d.Len() != 0 {
		return indexErr(sectionSymbols, fmt.Errorf("%d bytes left after %d symbols", d.Len(), n))
	}
	return nil
}

func (r *IndexReader) readPostingsTable() error {
	content, _, err := encoding.ReadCRCSection(r.b, r.layout.postingsTable, r.layout.fingerprints)
	if err != nil {
		return indexErr(sectionPostingsTable, err)
	}
	d := encoding.Decbuf{B: content}
	n := d.Count(4) // key count, name, value, offset: a byte each at least
	if d.Err() != nil {
		return indexErr(sectionPostingsTable, d.Err())
	}
	// One copy of the table; names and values are substrings of it.
	// Looking each up in the symbol table instead would save this copy
	// but cost more than the rest of opening.
	table := string(content)
	str := func(b []byte) string {
		end := len(content) - d.Len()
		return table[end-len(b) : end]
	}
	r.values = make([]string, 0, n)
	r.listOffsets = make([]int, 0, n)
	var prevName, prevValue string
	nextList := r.layout.postings // lists are written in key order and must not overlap
	for i := 0; i < n; i++ {
		entryErr := func(err error) error {
			return indexErrf(sectionPostingsTable, fmt.Sprintf("entry %d", i), err)
		}
		keys := d.Uvarint64()
		name := str(d.UvarintBytes())
		value := str(d.UvarintBytes())
		off := d.Uvarint()
		if d.Err() != nil {
			return entryErr(d.Err())
		}
		if keys != 2 {
			return entryErr(fmt.Errorf("key of %d parts, want 2", keys))
		}
		if i > 0 && (name < prevName || name == prevName && value <= prevValue) {
			return entryErr(fmt.Errorf("key %q=%q does not sort after %q=%q", name, value, prevName, prevValue))
		}
		prevName, prevValue = name, value
		// Lists are written in key order; requiring them to ascend without
		// overlap bounds the work of any Postings call by the file size.
		if off < nextList || off >= r.layout.labelIndicesTable {
			return entryErr(fmt.Errorf("postings list offset %d of %q=%q is outside [%d, %d)",
				off, name, value, nextList, r.layout.labelIndicesTable))
		}
		end, err := r.postingsListEnd(off)
		if err != nil {
			return postingsErr(name, value, off, err)
		}
		nextList = end
		if name == "" {
			if value != "" {
				return entryErr(fmt.Errorf("empty label name with value %q", value))
			}
			r.allPostings = off
			r.numSeries = int(binary.BigEndian.Uint32(r.b[off+4:]))
			continue
		}
		if len(r.names) == 0 || r.names[len(r.names)-1] != name {
			r.names = append(r.names, name)
			r.nameStart = append(r.nameStart, len(r.values))
		}
		r.values = append(r.values, value)
		r.listOffsets = append(r.listOffsets, off)
	}
	r.nameStart = append(r.nameStart, len(r.values))
	if d.Len() != 0 {
		return indexErr(sectionPostingsTable, fmt.Errorf("%d bytes left after %d entries", d.Len(), n))
	}
	return nil
}

// postingsListEnd checks the header of the postings list at off and returns
// the offset just past the list. Only the header is read: the CRC is checked
// when the list is decoded.
func (r *IndexReader) postingsListEnd(off int) (int, error) {
	limit := r.layout.labelIndicesTable
	if limit-off < 12 {
		return 0, fmt.Errorf("list header at offset %d runs past offset %d: %w", off, limit, encoding.ErrShortData)
	}
	l := binary.BigEndian.Uint32(r.b[off:])
	n := binary.BigEndian.Uint32(r.b[off+4:])
	if uint64(l) != 4+4*uint64(n) {
		return 0, fmt.Errorf("length %d does not match its count of %d refs", l, n)
	}
	if uint64(l) > uint64(limit-off-8) {
		return 0, fmt.Errorf("list of %d bytes runs past offset %d: %w", l, limit, encoding.ErrShortData)
	}
	return off + 8 + int(l), nil
}

// TOC returns the index's table of contents.
func (r *IndexReader) TOC() IndexTOC { return r.toc }

// NumSeries returns the number of series, as the all-series postings list
// counts them.
func (r *IndexReader) NumSeries() int { return r.numSeries }

// Bytes returns the size of the index file the reader holds.
func (r *IndexReader) Bytes() int { return len(r.b) }

// LabelNames returns the distinct label names of the index, sorted. The
// slice is the caller's to keep or modify.
func (r *IndexReader) LabelNames() []string {
	return slices.Clone(r.names)
}

// LabelValues returns the sorted values of the label called name, or nil if
// no series has it. The slice is the caller's to keep or modify.
func (r *IndexReader) LabelValues(name string) []string {
	lo, hi, ok := r.valueRange(name)
	if !ok {
		return nil
	}
	return slices.Clone(r.values[lo:hi])
}

// valueRange returns the positions in r.values of the values of name.
func (r *IndexReader) valueRange(name string) (lo, hi int, ok bool) {
	i, found := slices.BinarySearch(r.names, name)
	if !found {
		return 0, 0, false
	}
	return r.nameStart[i], r.nameStart[i+1], true
}

// Postings returns the ascending, deduplicated series refs of the union of
// the postings lists of name=value for each given value. Values absent from
// the index contribute nothing. Postings("", "") is AllPostings.
func (r *IndexReader) Postings(name string, values ...string) ([]SeriesRef, error) {
	if name == "" {
		if slices.Contains(values, "") {
			return r.AllPostings()
		}
		return nil, nil
	}
	lo, hi, ok := r.valueRange(name)
	if !ok {
		return nil, nil
	}
	var (
		refs  []SeriesRef
		lists int
	)
	for _, v := range values {
		j, found := slices.BinarySearch(r.values[lo:hi], v)
		if !found {
			continue
		}
		var err error
		if refs, err = r.appendPostings(refs, r.listOffsets[lo+j], name, v); err != nil {
			return nil, err
		}
		lists++
	}
	if lists > 1 {
		slices.Sort(refs)
		refs = slices.Compact(refs)
	}
	return refs, nil
}

// AllPostings returns the refs of every series, ascending.
func (r *IndexReader) AllPostings() ([]SeriesRef, error) {
	if r.allPostings == 0 {
		return nil, nil
	}
	return r.appendPostings(nil, r.allPostings, "", "")
}

// appendPostings appends the refs of the postings list at off, checking its
// CRC and that its refs ascend.
func (r *IndexReader) appendPostings(refs []SeriesRef, off int, name, value string) ([]SeriesRef, error) {
	content, _, err := encoding.ReadCRCSection(r.b, off, r.layout.labelIndicesTable)
	if err != nil {
		return nil, postingsErr(name, value, off, err)
	}
	d := encoding.Decbuf{B: content}
	n := d.Count(4)
	if d.Err() == nil && d.Len() != 4*n {
		d.Fail(fmt.Errorf("%d bytes for %d refs", d.Len(), n))
	}
	if d.Err() != nil {
		return nil, postingsErr(name, value, off, d.Err())
	}
	refs = slices.Grow(refs, n)
	first := len(refs)
	for i := 0; i < n; i++ {
		ref := SeriesRef(d.Be32())
		if i > 0 && ref <= refs[first+i-1] {
			return nil, postingsErr(name, value, off, fmt.Errorf("ref %d at position %d does not ascend", ref, i))
		}
		refs = append(refs, ref)
	}
	return refs, nil
}

func postingsErr(name, value string, off int, err error) error {
	key := "all series"
	if name != "" {
		key = fmt.Sprintf("%s=%q", name, value)
	}
	return indexErrf(sectionPostings, fmt.Sprintf("%s at offset %d", key, off), err)
}

// Series decodes the entry of ref into into. It reuses the backing array of
// into.Labels when it is large enough, so a caller that keeps the labels of
// an earlier call must pass a Series with nil Labels. Label strings are the
// reader's interned symbols: decoding allocates nothing. On error into is
// left in an unspecified state.
func (r *IndexReader) Series(ref SeriesRef, into *Series) error {
	off := uint64(ref) * seriesAlignment
	if off < uint64(r.layout.series) || off >= uint64(r.layout.labelIndices) {
		return indexErrf(sectionSeries, fmt.Sprintf("ref %d", ref),
			fmt.Errorf("offset %d is outside the series section [%d, %d)", off, r.layout.series, r.layout.labelIndices))
	}
	content, _, err := encoding.ReadUvarintCRCSection(r.b, int(off), r.layout.labelIndices)
	if err == nil {
		err = r.decodeSeries(content, into)
	}
	if err != nil {
		return indexErrf(sectionSeries, fmt.Sprintf("ref %d at offset %d", ref, off), err)
	}
	return nil
}

// decodeSeries decodes the content of a series entry (block-format.md §4.5).
func (r *IndexReader) decodeSeries(content []byte, into *Series) error {
	d := encoding.Decbuf{B: content}
	fp := d.Be64()
	k := d.Uvarint64()
	if d.Err() == nil && k > uint64(d.Len()/2) {
		return fmt.Errorf("%d labels do not fit in the %d bytes left", k, d.Len())
	}
	lbls := into.Labels[:0]
	for i := 0; i < int(k); i++ {
		nameRef, valueRef := d.Uvarint64(), d.Uvarint64()
		if d.Err() != nil {
			return fmt.Errorf("label %d: %w", i, d.Err())
		}
		if nameRef >= uint64(len(r.symbols)) || valueRef >= uint64(len(r.symbols)) {
			return fmt.Errorf("label %d: symbol ref %d/%d out of range (%d symbols)", i, nameRef, valueRef, len(r.symbols))
		}
		lbls = append(lbls, Label{Name: r.symbols[nameRef], Value: r.symbols[valueRef]})
	}
	into.Labels = lbls

	chunks := d.Uvarint64()
	if d.Err() == nil {
		if chunks == 0 {
			return errors.New("no chunk meta")
		}
		if chunks > uint64(d.Len()/minChunkMetaSize) {
			return fmt.Errorf("%d chunk metas do not fit in the %d bytes left", chunks, d.Len())
		}
	}
	var (
		minTime, maxTime int64
		seriesIndex      uint64
	)
	for i := 0; i < int(chunks); i++ {
		var mint int64
		if i == 0 {
			mint = d.Varint64()
		} else {
			// Later chunks store MinTime relative to the previous MaxTime.
			delta := d.Varint64()
			mint = maxTime + delta
			if delta > 0 && mint < maxTime || delta < 0 && mint > maxTime {
				d.Fail(fmt.Errorf("chunk meta %d: MinTime overflows", i))
			}
		}
		span := d.Uvarint64()
		d.Uvarint64() // KB, unused
		si := d.Uvarint64()
		d.Be32() // checksum, always 0
		if d.Err() != nil {
			return fmt.Errorf("chunk meta %d: %w", i, d.Err())
		}
		if span > math.MaxInt64 || mint > math.MaxInt64-int64(span) {
			return fmt.Errorf("chunk meta %d: MaxTime overflows", i)
		}
		maxTime = mint + int64(span)
		if i == 0 {
			minTime, seriesIndex = mint, si
		}
	}
	if d.Err() != nil {
		return d.Err()
	}
	if d.Len() != 0 {
		return fmt.Errorf("%d bytes left after the chunk metas", d.Len())
	}
	if seriesIndex > math.MaxUint32 {
		return fmt.Errorf("SeriesIndex %d overflows uint32", seriesIndex)
	}
	into.Fingerprint = fp
	into.SeriesIndex = uint32(seriesIndex)
	into.MinTime, into.MaxTime = minTime, maxTime
	return nil
}

// Validate checks every section that NewIndexReader leaves to be read on
// demand: each series entry (CRC, symbol refs, chunk metas), each label
// index and postings list (CRC), the label indices table and the fingerprint
// offsets table (CRC and layout). It also checks that the postings lists
// refer only to series that exist, that the all-series list names exactly
// the entries of the series section, and that padding between entries is
// zero. Validate reads the whole file; call it once when a block is first
// opened, not per query.
func (r *IndexReader) Validate() error {
	l := r.layout
	// The symbol table and postings offset table were checked when opening;
	// here they must also fill their sections exactly.
	if _, next, _ := encoding.ReadCRCSection(r.b, l.symbols, l.series); next != l.series {
		return indexErr(sectionSymbols, fmt.Errorf("section ends at %d, series start at %d", next, l.series))
	}
	if _, next, _ := encoding.ReadCRCSection(r.b, l.postingsTable, l.fingerprints); next != l.fingerprints {
		return indexErr(sectionPostingsTable, fmt.Errorf("section ends at %d, fingerprint offsets table starts at %d", next, l.fingerprints))
	}

	refs, err := r.validateSeries()
	if err != nil {
		return err
	}
	labelIndexStarts, err := walkAlignedCRCSections(r.b, l.labelIndices, l.postings, sectionLabelIndex)
	if err != nil {
		return err
	}
	if err := r.validateLabelIndicesTable(labelIndexStarts); err != nil {
		return err
	}
	if _, err := walkAlignedCRCSections(r.b, l.postings, l.labelIndicesTable, sectionPostings); err != nil {
		return err
	}
	if err := r.validatePostings(refs); err != nil {
		return err
	}
	return r.validateFingerprints()
}

// validateSeries decodes every entry of the series section in file order and
// returns their refs, ascending.
func (r *IndexReader) validateSeries() ([]SeriesRef, error) {
	var (
		refs []SeriesRef
		s    Series
	)
	pos, end := r.layout.series, r.layout.labelIndices
	// The end test comes before aligning: the 4-aligned label indices may
	// start inside the last 16-byte slot.
	for pos < end {
		aligned := alignUp(pos, seriesAlignment)
		if err := checkPadding(r.b, pos, aligned, end); err != nil {
			return nil, indexErrf(sectionSeries, fmt.Sprintf("padding at offset %d", pos), err)
		}
		ref := aligned / seriesAlignment
		if ref > math.MaxUint32 {
			return nil, indexErrf(sectionSeries, fmt.Sprintf("offset %d", aligned), errors.New("ref overflows uint32"))
		}
		content, next, err := encoding.ReadUvarintCRCSection(r.b, aligned, end)
		if err == nil {
			err = r.decodeSeries(content, &s)
		}
		if err != nil {
			return nil, indexErrf(sectionSeries, fmt.Sprintf("ref %d at offset %d", ref, aligned), err)
		}
		refs = append(refs, SeriesRef(ref))
		pos = next
	}
	return refs, nil
}

// walkAlignedCRCSections checks the CRC sections that fill b[start:end],
// each 4-aligned with zero padding, and returns their offsets.
func walkAlignedCRCSections(b []byte, start, end int, section string) ([]int, error) {
	var starts []int
	for pos := start; pos < end; {
		aligned := alignUp(pos, listAlignment)
		if err := checkPadding(b, pos, aligned, end); err != nil {
			return nil, indexErrf(section, fmt.Sprintf("padding at offset %d", pos), err)
		}
		_, next, err := encoding.ReadCRCSection(b, aligned, end)
		if err != nil {
			return nil, indexErrf(section, fmt.Sprintf("offset %d", aligned), err)
		}
		starts = append(starts, aligned)
		pos = next
	}
	return starts, nil
}

func (r *IndexReader) validateLabelIndicesTable(labelIndexStarts []int) error {
	l := r.layout
	content, next, err := encoding.ReadCRCSection(r.b, l.labelIndicesTable, l.postingsTable)
	if err == nil && next != l.postingsTable {
		err = fmt.Errorf("section ends at %d, postings offset table starts at %d", next, l.postingsTable)
	}
	if err != nil {
		return indexErr(sectionLabelIndicesTable, err)
	}
	d := encoding.Decbuf{B: content}
	n := d.Count(3) // key count, name, offset
	var prevName []byte
	for i := 0; i < n && d.Err() == nil; i++ {
		keys := d.Uvarint64()
		name := d.UvarintBytes()
		off := d.Uvarint()
		if d.Err() != nil {
			break
		}
		detail := fmt.Sprintf("entry %d", i)
		if keys != 1 {
			return indexErrf(sectionLabelIndicesTable, detail, fmt.Errorf("key of %d names, want 1", keys))
		}
		if i > 0 && bytes.Compare(prevName, name) >= 0 {
			return indexErrf(sectionLabelIndicesTable, detail, fmt.Errorf("name %q does not sort after %q", name, prevName))
		}
		prevName = name
		if _, found := slices.BinarySearch(labelIndexStarts, off); !found {
			return indexErrf(sectionLabelIndicesTable, detail, fmt.Errorf("offset %d of %q is not the start of a label index", off, name))
		}
		if err := r.validateLabelIndex(off); err != nil {
			return indexErrf(sectionLabelIndex, fmt.Sprintf("%q at offset %d", name, off), err)
		}
	}
	if d.Err() == nil && d.Len() != 0 {
		d.Fail(fmt.Errorf("%d bytes left after %d entries", d.Len(), n))
	}
	if d.Err() != nil {
		return indexErr(sectionLabelIndicesTable, d.Err())
	}
	return nil
}

// validateLabelIndex checks the content of the label index at off: one name
// per entry and value symbol refs in range.
func (r *IndexReader) validateLabelIndex(off int) error {
	content, _, err := encoding.ReadCRCSection(r.b, off, r.layout.postings)
	if err != nil {
		return err
	}
	d := encoding.Decbuf{B: content}
	if names := d.Be32(); d.Err() == nil && names != 1 {
		return fmt.Errorf("%d names per entry, want 1", names)
	}
	n := d.Count(4)
	if d.Err() == nil && d.Len() != 4*n {
		return fmt.Errorf("%d bytes for %d values", d.Len(), n)
	}
	for i := 0; i < n; i++ {
		if ref := d.Be32(); d.Err() == nil && int64(ref) >= int64(len(r.symbols)) {
			return fmt.Errorf("value %d: symbol ref %d out of range (%d symbols)", i, ref, len(r.symbols))
		}
	}
	return d.Err()
}

// validatePostings decodes every list the postings offset table refers to
// and checks that each ref is one of the series entries found in the series
// section, and that the all-series list holds all of them.
func (r *IndexReader) validatePostings(series []SeriesRef) error {
	all, err := r.AllPostings()
	if err != nil {
		return err
	}
	if !slices.Equal(all, series) {
		return indexErrf(sectionPostings, "all series", fmt.Errorf(
			"list of %d refs does not match the %d entries of the series section", len(all), len(series)))
	}
	var refs []SeriesRef
	for i, name := range r.names {
		for j := r.nameStart[i]; j < r.nameStart[i+1]; j++ {
			value, off := r.values[j], r.listOffsets[j]
			if refs, err = r.appendPostings(refs[:0], off, name, value); err != nil {
				return err
			}
			for _, ref := range refs {
				if _, found := slices.BinarySearch(series, ref); !found {
					return postingsErr(name, value, off, fmt.Errorf("ref %d is not a series entry", ref))
				}
			}
		}
	}
	return nil
}

// validateFingerprints checks the fingerprint offsets table: CRC, and BE32
// count followed by that many (BE64 ref, BE64 fingerprint) pairs.
func (r *IndexReader) validateFingerprints() error {
	l := r.layout
	content, next, err := encoding.ReadCRCSection(r.b, l.fingerprints, l.toc)
	if err == nil && next != l.toc {
		err = fmt.Errorf("section ends at %d, TOC starts at %d", next, l.toc)
	}
	if err != nil {
		return indexErr(sectionFingerprints, err)
	}
	d := encoding.Decbuf{B: content}
	n := d.Count(16)
	if d.Err() == nil && d.Len() != 16*n {
		d.Fail(fmt.Errorf("%d bytes for %d entries", d.Len(), n))
	}
	if d.Err() != nil {
		return indexErr(sectionFingerprints, d.Err())
	}
	return nil
}

func alignUp(pos, alignment int) int {
	if rem := pos % alignment; rem != 0 {
		return pos + alignment - rem
	}
	return pos
}

// checkPadding checks that b[from:to] is zero and ends before end.
func checkPadding(b []byte, from, to, end int) error {
	if to > end {
		return fmt.Errorf("padding to offset %d runs past offset %d", to, end)
	}
	for _, c := range b[from:to] {
		if c != 0 {
			return errors.New("non-zero padding")
		}
	}
	return nil
}
