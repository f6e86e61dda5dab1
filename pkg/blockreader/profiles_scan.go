package blockreader

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
)

// ProfileSelection says which rows Scan returns.
type ProfileSelection struct {
	// SeriesIndexes lists the series whose rows are wanted, ascending and
	// without duplicates. Empty selects nothing.
	SeriesIndexes []uint32
	// StartNanos and EndNanos bound TimeNanos, both inclusive (api.md §5.4).
	StartNanos, EndNanos int64
}

// ProfileColumns is a set of columns for Scan to read besides SeriesIndex
// and TimeNanos, which it always reads.
type ProfileColumns uint

const (
	// ColumnSamples fills StacktraceIDs and Values.
	ColumnSamples ProfileColumns = 1 << iota
	// ColumnTotalValue fills TotalValue. Files without the column (meta v1
	// and v2) have the Value column read to compute it.
	ColumnTotalValue
	// ColumnID fills ID.
	ColumnID
	// ColumnSpanIDs fills SpanIDs, when the file has span IDs.
	ColumnSpanIDs
	// ColumnAnnotations fills Annotations, when the file has them.
	ColumnAnnotations
	// ColumnPartition fills Partition, when the file has partitions.
	ColumnPartition

	// AllProfileColumns reads everything.
	AllProfileColumns = ColumnSamples | ColumnTotalValue | ColumnID | ColumnSpanIDs | ColumnAnnotations | ColumnPartition
)

// Annotation is a key/value string attached to a profile at ingestion.
type Annotation struct{ Key, Value string }

// ProfileRow is one row of profiles.parquet: one sample type of one
// ingested profile. Fields of columns that were not asked for, or that the
// file lacks, are zero.
//
// NOTE: samples are exactly as stored. Old blocks keep zero values and
// descending or duplicate stack-trace IDs (block-format.md §5.5); callers
// skip values <= 0, sort IDs and add up duplicates themselves.
type ProfileRow struct {
	// RowNumber is the row's position in the file.
	RowNumber   int64
	SeriesIndex uint32
	TimeNanos   int64
	// Partition is the symdb partition of the row's stack traces; 0 in files
	// without partitions (meta v1).
	Partition uint64
	// TotalValue is the stored total or, in files without the column, the
	// sum of the positive sample values.
	TotalValue uint64
	ID         [16]byte

	// StacktraceIDs and Values are the samples, index by index. SpanIDs,
	// when read, has one entry per sample, 0 for none. A row without
	// samples has empty slices.
	//
	// NOTE: these slices and Annotations alias the reader's buffers and are
	// only valid until the callback returns; it may modify them in place but
	// must copy what it keeps.
	StacktraceIDs []uint64
	Values        []int64
	SpanIDs       []uint64
	Annotations   []Annotation
}

// ScanBuffers keeps the state of finished scans, whatever their reader, so
// that their buffers (a column chunk's worth of pages per column read, and
// the decoded values) serve the next ones. It keeps at most Max scans; the
// zero value keeps none. It is safe for concurrent use.
type ScanBuffers struct {
	Max int

	mu   sync.Mutex
	free []*profileScan
}

func (b *ScanBuffers) get() *profileScan {
	if b != nil {
		b.mu.Lock()
		defer b.mu.Unlock()
		if n := len(b.free); n > 0 {
			s := b.free[n-1]
			b.free[n-1] = nil
			b.free = b.free[:n-1]
			return s
		}
	}
	return &profileScan{strings: make(map[string]string)}
}

func (b *ScanBuffers) put(s *profileScan) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.free) < b.Max {
		b.free = append(b.free, s)
	}
}

// Scan calls fn for every row selected by sel, in file order (by
// SeriesIndex, then TimeNanos), with the columns in cols filled in. It
// stops at the first error fn returns and returns it unchanged. fn gets
// the same *ProfileRow every time.
//
// Scan reads SeriesIndex first and TimeNanos next, skipping row groups and
// pages whose statistics rule out a match, then reads the other columns
// only for the selected rows. It checks ctx before each page it loads.
func (p *ProfilesReader) Scan(ctx context.Context, sel ProfileSelection, cols ProfileColumns, fn func(*ProfileRow) error) error {
	return p.ScanWith(ctx, nil, sel, cols, fn)
}

// ScanWith is Scan with its buffers taken from bufs, and given back to it
// when it returns; nil allocates them.
func (p *ProfilesReader) ScanWith(ctx context.Context, bufs *ScanBuffers, sel ProfileSelection, cols ProfileColumns, fn func(*ProfileRow) error) error {
	for i := 1; i < len(sel.SeriesIndexes); i++ {
		if sel.SeriesIndexes[i] <= sel.SeriesIndexes[i-1] {
			return fmt.Errorf("profiles.parquet: series indexes not ascending and distinct at %d", i)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(sel.SeriesIndexes) == 0 || sel.StartNanos > sel.EndNanos {
		return nil
	}
	s := bufs.get()
	defer func() {
		s.release()
		bufs.put(s)
	}()
	s.begin(p, ctx, sel, cols, fn)
	for g := range p.rowGroups {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := s.scanRowGroup(g); err != nil {
			if s.fnErr {
				return err
			}
			if errors.Is(err, ctx.Err()) {
				return ctx.Err()
			}
			return fmt.Errorf("profiles.parquet: row group %d: %w", g, err)
		}
	}
	return nil
}

// rowRange is a half-open range of rows of one row group.
type rowRange struct{ start, end int64 }

// profileScan is the state of one Scan, kept in ScanBuffers between scans
// so that its buffers are reused.
type profileScan struct {
	p       *ProfilesReader
	ctx     context.Context
	sel     ProfileSelection
	fn      func(*ProfileRow) error
	fnErr   bool // the error being returned came from fn
	cursors [numProfileColumns]columnCursor
	active  []profileColumn // columns to read for selected rows

	readIDs, readValues, sumValues bool

	candidates []rowRange // rows the page index cannot rule out
	wanted     []rowRange // rows being read
	scratch    []rowRange
	rows       []int64 // selected rows in the row group
	series     []uint32
	times      []int64

	row     ProfileRow
	strings map[string]string // interned annotation strings
}

func (s *profileScan) begin(p *ProfilesReader, ctx context.Context, sel ProfileSelection, cols ProfileColumns, fn func(*ProfileRow) error) {
	s.p, s.ctx, s.sel, s.fn, s.fnErr = p, ctx, sel, fn, false
	for c := range s.cursors {
		s.cursors[c].p, s.cursors[c].col, s.cursors[c].ctx = p, p.columns[c], ctx
	}
	s.active = s.active[:0]
	want := func(c profileColumn, flag ProfileColumns) bool {
		if cols&flag != 0 && p.columns[c] != nil {
			s.active = append(s.active, c)
			return true
		}
		return false
	}
	want(colPartition, ColumnPartition)
	want(colTotalValue, ColumnTotalValue)
	want(colID, ColumnID)
	s.readIDs = want(colStacktraceID, ColumnSamples)
	s.sumValues = cols&ColumnTotalValue != 0 && p.columns[colTotalValue] == nil
	s.readValues = (s.readIDs || s.sumValues) && want(colValue, ColumnSamples|ColumnTotalValue)
	want(colSpanID, ColumnSpanIDs)
	if want(colAnnotationKey, ColumnAnnotations) {
		s.active = append(s.active, colAnnotationValue)
	}
}

func (s *profileScan) release() {
	s.p, s.ctx, s.fn, s.sel = nil, nil, nil, ProfileSelection{}
	for c := range s.cursors {
		s.cursors[c].release()
	}
	s.row = ProfileRow{
		StacktraceIDs: s.row.StacktraceIDs[:0],
		SpanIDs:       s.row.SpanIDs[:0],
		Annotations:   s.row.Annotations[:0],
	}
	clear(s.strings)
}

// scanRowGroup finds the selected rows of row group g and hands them to fn.
func (s *profileScan) scanRowGroup(g int) error {
	rg := &s.p.rowGroups[g]
	if rg.numRows == 0 || !s.mayMatch(&rg.chunks[colSeriesIndex], &rg.chunks[colTimeNanos]) {
		return nil
	}
	// Rows the page indexes cannot rule out.
	s.candidates = append(s.candidates[:0], rowRange{0, rg.numRows})
	s.candidates = s.prunePages(s.candidates, &rg.chunks[colSeriesIndex], true, rg.numRows)
	s.candidates = s.prunePages(s.candidates, &rg.chunks[colTimeNanos], false, rg.numRows)
	if len(s.candidates) == 0 {
		return nil
	}

	// SeriesIndex of the candidates.
	s.rows, s.series, s.times = s.rows[:0], s.series[:0], s.times[:0]
	sc := &s.cursors[colSeriesIndex]
	sc.reset(rg, s.candidates)
	hint := 0
	for _, r := range s.candidates {
		for row := r.start; row < r.end; row++ {
			v, err := sc.int32At(row)
			if err != nil {
				return fmt.Errorf("column %s: %w", colSeriesIndex, err)
			}
			if i, ok := searchSeries(s.sel.SeriesIndexes, uint32(v), hint); ok {
				hint = i
				s.rows = append(s.rows, row)
				s.series = append(s.series, uint32(v))
			}
		}
	}
	if len(s.rows) == 0 {
		return nil
	}

	// TimeNanos of the rows of selected series.
	tc := &s.cursors[colTimeNanos]
	s.wanted = appendRowRanges(s.wanted[:0], s.rows)
	tc.reset(rg, s.wanted)
	n := 0
	for i, row := range s.rows {
		t, err := tc.int64At(row)
		if err != nil {
			return fmt.Errorf("column %s: %w", colTimeNanos, err)
		}
		if t >= s.sel.StartNanos && t <= s.sel.EndNanos {
			s.rows[n], s.series[n] = row, s.series[i]
			s.times = append(s.times, t)
			n++
		}
	}
	s.rows, s.series = s.rows[:n], s.series[:n]
	if n == 0 {
		return nil
	}

	// Everything else, for the selected rows only.
	s.wanted = appendRowRanges(s.wanted[:0], s.rows)
	for _, c := range s.active {
		s.cursors[c].reset(rg, s.wanted)
	}
	for i, row := range s.rows {
		if err := s.readRow(rg, row, s.series[i], s.times[i]); err != nil {
			return err
		}
		if err := s.fn(&s.row); err != nil {
			s.fnErr = true
			return err
		}
	}
	return nil
}

// mayMatch tells from the chunk statistics whether a row group can hold
// selected rows.
func (s *profileScan) mayMatch(series, times *chunkInfo) bool {
	if series.statsOK && !seriesOverlap(s.sel.SeriesIndexes, series.statsMin, series.statsMax) {
		return false
	}
	if times.statsOK && (times.statsMax < s.sel.StartNanos || times.statsMin > s.sel.EndNanos) {
		return false
	}
	return true
}

// prunePages removes from ranges the rows of pages whose column index
// rules out a match. series says whether ch is the SeriesIndex chunk.
func (s *profileScan) prunePages(ranges []rowRange, ch *chunkInfo, series bool, numRows int64) []rowRange {
	if ch.pageOK == nil {
		return ranges
	}
	out := s.scratch[:0]
	for _, r := range ranges {
		for i, pl := range ch.pages {
			end := numRows
			if i+1 < len(ch.pages) {
				end = ch.pages[i+1].FirstRowIndex
			}
			lo, hi := max(r.start, pl.FirstRowIndex), min(r.end, end)
			if lo >= hi {
				continue
			}
			if ch.pageOK[i] {
				if series && !seriesOverlap(s.sel.SeriesIndexes, ch.pageMin[i], ch.pageMax[i]) {
					continue
				}
				if !series && (ch.pageMax[i] < s.sel.StartNanos || ch.pageMin[i] > s.sel.EndNanos) {
					continue
				}
			}
			if k := len(out); k > 0 && out[k-1].end == lo {
				out[k-1].end = hi
			} else {
				out = append(out, rowRange{lo, hi})
			}
		}
	}
	s.scratch = out
	return append(ranges[:0], out...)
}

// seriesOverlap reports whether any of the ascending series lies in
// [lo, hi].
func seriesOverlap(series []uint32, lo, hi int64) bool {
	i, _ := slices.BinarySearch(series, uint32(max(lo, 0)))
	return lo <= int64(^uint32(0)) && i < len(series) && int64(series[i]) <= hi
}

// searchSeries looks v up in the ascending series, trying position hint
// first: rows come sorted by series, so the last hit is usually right.
func searchSeries(series []uint32, v uint32, hint int) (int, bool) {
	if hint < len(series) && series[hint] == v {
		return hint, true
	}
	return slices.BinarySearch(series, v)
}

// appendRowRanges appends the runs of consecutive rows in ascending rows.
func appendRowRanges(dst []rowRange, rows []int64) []rowRange {
	for _, row := range rows {
		if k := len(dst); k > 0 && dst[k-1].end == row {
			dst[k-1].end++
		} else {
			dst = append(dst, rowRange{row, row + 1})
		}
	}
	return dst
}

// readRow fills s.row for one selected row.
func (s *profileScan) readRow(rg *rowGroupInfo, row int64, series uint32, t int64) error {
	pr := &s.row
	pr.RowNumber, pr.SeriesIndex, pr.TimeNanos = rg.firstRow+row, series, t
	pr.Partition, pr.TotalValue, pr.ID = 0, 0, [16]byte{}
	pr.StacktraceIDs, pr.Values, pr.SpanIDs = nil, nil, nil
	pr.Annotations = pr.Annotations[:0]
	for _, c := range s.active {
		cur := &s.cursors[c]
		var err error
		switch c {
		case colPartition:
			var v int64
			v, err = cur.int64At(row)
			pr.Partition = uint64(v)
		case colTotalValue:
			var v int64
			v, err = cur.int64At(row)
			pr.TotalValue = uint64(v)
		case colID:
			pr.ID, err = cur.fixed16At(row)
		case colStacktraceID:
			var ids []int64
			ids, err = cur.int64sAt(row)
			pr.StacktraceIDs = asUint64s(ids)
		case colValue:
			var vals []int64
			vals, err = cur.int64sAt(row)
			if s.readIDs {
				pr.Values = vals
				if err == nil && len(vals) != len(pr.StacktraceIDs) {
					err = fmt.Errorf("%w: row %d has %d stack-trace IDs and %d values", ErrMalformedParquet, row, len(pr.StacktraceIDs), len(vals))
				}
			}
			if s.sumValues {
				var sum uint64
				for _, v := range vals {
					if v > 0 {
						sum += uint64(v)
					}
				}
				pr.TotalValue = sum
			}
		case colSpanID:
			var spans []int64
			spans, err = cur.int64sAt(row)
			pr.SpanIDs = asUint64s(spans)
			if err == nil && s.readIDs && len(spans) != len(pr.StacktraceIDs) {
				err = fmt.Errorf("%w: row %d has %d samples and %d span IDs", ErrMalformedParquet, row, len(pr.StacktraceIDs), len(spans))
			}
		case colAnnotationKey:
			err = s.readAnnotations(row)
		case colAnnotationValue:
			// Read with the keys.
		}
		if err != nil {
			return fmt.Errorf("column %s: %w", c, err)
		}
	}
	return nil
}

func (s *profileScan) readAnnotations(row int64) error {
	keys, kOffsets, err := s.cursors[colAnnotationKey].bytesAt(row)
	if err != nil {
		return err
	}
	numKeys := len(kOffsets) - 1
	vals, vOffsets, err := s.cursors[colAnnotationValue].bytesAt(row)
	if err != nil {
		return err
	}
	if numKeys != len(vOffsets)-1 {
		return fmt.Errorf("%w: row %d has %d annotation keys and %d values", ErrMalformedParquet, row, numKeys, len(vOffsets)-1)
	}
	for i := range max(numKeys, 0) {
		s.row.Annotations = append(s.row.Annotations, Annotation{
			Key:   s.intern(keys[kOffsets[i]:kOffsets[i+1]]),
			Value: s.intern(vals[vOffsets[i]:vOffsets[i+1]]),
		})
	}
	return nil
}

// intern returns b as a string, allocating each distinct string once per
// scan: annotations repeat from row to row.
func (s *profileScan) intern(b []byte) string {
	if v, ok := s.strings[string(b)]; ok {
		return v
	}
	v := string(b)
	s.strings[v] = v
	return v
}
