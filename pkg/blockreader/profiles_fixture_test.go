package blockreader

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// profilesTable is everything a profiles.parquet holds that Scan returns,
// read with parquet-go's generic row reader: the oracle Scan is checked
// against.
type profilesTable struct {
	rows []ProfileRow // TotalValue computed where the file lacks it
	// storedTotal is the TotalValue column where the file has one.
	storedTotal    []uint64
	hasTotal       bool
	hasPartition   bool
	hasSpanID      bool
	hasAnnotations bool
}

// readProfilesTable reads a whole file with parquet-go's own page and row
// machinery, which shares nothing with ProfilesReader but the format
// package.
func readProfilesTable(tb testing.TB, data []byte) *profilesTable {
	tb.Helper()
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		tb.Fatal(err)
	}
	col := make([]int, numProfileColumns)
	def := make([]int, numProfileColumns)
	for c := range numProfileColumns {
		col[c] = -1
		if leaf, ok := f.Schema().Lookup(strings.Split(profileColumnSpecs[c].path, ".")...); ok {
			col[c], def[c] = leaf.ColumnIndex, leaf.MaxDefinitionLevel
		}
	}
	t := &profilesTable{
		hasTotal:       col[colTotalValue] >= 0,
		hasPartition:   col[colPartition] >= 0,
		hasSpanID:      col[colSpanID] >= 0,
		hasAnnotations: col[colAnnotationKey] >= 0,
	}
	byColumn := make(map[int]profileColumn)
	for c, i := range col {
		if i >= 0 {
			byColumn[i] = profileColumn(c)
		}
	}
	buf := make([]parquet.Row, 64)
	for _, rg := range f.RowGroups() {
		rows := rg.Rows()
		for {
			n, err := rows.ReadRows(buf)
			for _, row := range buf[:n] {
				r := ProfileRow{RowNumber: int64(len(t.rows))}
				var keys, values []string
				for _, v := range row {
					c, ok := byColumn[v.Column()]
					if !ok {
						continue
					}
					present := v.DefinitionLevel() == def[c]
					switch c {
					case colSeriesIndex:
						r.SeriesIndex = uint32(v.Int32())
					case colTimeNanos:
						r.TimeNanos = v.Int64()
					case colPartition:
						r.Partition = v.Uint64()
					case colTotalValue:
						r.TotalValue = v.Uint64()
					case colID:
						copy(r.ID[:], v.ByteArray())
					case colStacktraceID:
						if present {
							r.StacktraceIDs = append(r.StacktraceIDs, v.Uint64())
						}
					case colValue:
						if present {
							r.Values = append(r.Values, v.Int64())
						}
					case colSpanID:
						if v.DefinitionLevel() >= 1 {
							r.SpanIDs = append(r.SpanIDs, v.Uint64()) // 0 when null
						}
					case colAnnotationKey:
						if present {
							keys = append(keys, string(v.ByteArray()))
						}
					case colAnnotationValue:
						if present {
							values = append(values, string(v.ByteArray()))
						}
					}
				}
				if len(keys) != len(values) {
					tb.Fatalf("oracle: row %d has %d annotation keys and %d values", r.RowNumber, len(keys), len(values))
				}
				for i := range keys {
					r.Annotations = append(r.Annotations, Annotation{keys[i], values[i]})
				}
				if t.hasTotal {
					t.storedTotal = append(t.storedTotal, r.TotalValue)
				} else {
					r.TotalValue = positiveSum(r.Values)
				}
				t.rows = append(t.rows, r)
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				tb.Fatal(err)
			}
		}
		rows.Close()
	}
	return t
}

func positiveSum(values []int64) uint64 {
	var sum uint64
	for _, v := range values {
		if v > 0 {
			sum += uint64(v)
		}
	}
	return sum
}

// expected returns the rows sel selects, with only the fields cols asks
// for, as Scan should return them.
func (t *profilesTable) expected(sel ProfileSelection, cols ProfileColumns) []ProfileRow {
	var out []ProfileRow
	for _, r := range t.rows {
		if _, ok := slices.BinarySearch(sel.SeriesIndexes, r.SeriesIndex); !ok || r.TimeNanos < sel.StartNanos || r.TimeNanos > sel.EndNanos {
			continue
		}
		e := ProfileRow{RowNumber: r.RowNumber, SeriesIndex: r.SeriesIndex, TimeNanos: r.TimeNanos}
		if cols&ColumnPartition != 0 {
			e.Partition = r.Partition
		}
		if cols&ColumnTotalValue != 0 {
			e.TotalValue = r.TotalValue
		}
		if cols&ColumnID != 0 {
			e.ID = r.ID
		}
		if cols&ColumnSamples != 0 {
			e.StacktraceIDs, e.Values = r.StacktraceIDs, r.Values
		}
		if cols&ColumnSpanIDs != 0 {
			e.SpanIDs = r.SpanIDs
		}
		if cols&ColumnAnnotations != 0 {
			e.Annotations = r.Annotations
		}
		out = append(out, e)
	}
	return out
}

// seriesIndexes returns the distinct series of the table, ascending.
func (t *profilesTable) seriesIndexes() []uint32 {
	var s []uint32
	for _, r := range t.rows {
		s = append(s, r.SeriesIndex)
	}
	slices.Sort(s)
	return slices.Compact(s)
}

// scanAll runs Scan and returns deep copies of the rows it yields.
func scanAll(tb testing.TB, p *ProfilesReader, sel ProfileSelection, cols ProfileColumns) []ProfileRow {
	tb.Helper()
	return scanAllWith(tb, p, nil, sel, cols)
}

// scanAllWith is scanAll with the scan's buffers lent by bufs.
func scanAllWith(tb testing.TB, p *ProfilesReader, bufs *ScanBuffers, sel ProfileSelection, cols ProfileColumns) []ProfileRow {
	tb.Helper()
	var out []ProfileRow
	err := p.ScanWith(context.Background(), bufs, sel, cols, func(r *ProfileRow) error {
		c := *r
		c.StacktraceIDs = slices.Clone(r.StacktraceIDs)
		c.Values = slices.Clone(r.Values)
		c.SpanIDs = slices.Clone(r.SpanIDs)
		c.Annotations = slices.Clone(r.Annotations)
		out = append(out, c)
		return nil
	})
	if err != nil {
		tb.Fatalf("Scan(%v, %b): %v", sel, cols, err)
	}
	return out
}

// diffRows describes the first difference between two row lists, or
// returns "". Empty and nil slices are equal.
func diffRows(got, want []ProfileRow) string {
	for i := range min(len(got), len(want)) {
		g, w := got[i], want[i]
		var d []string
		check := func(name string, eq bool, gv, wv any) {
			if !eq {
				d = append(d, fmt.Sprintf("%s = %v, want %v", name, gv, wv))
			}
		}
		check("RowNumber", g.RowNumber == w.RowNumber, g.RowNumber, w.RowNumber)
		check("SeriesIndex", g.SeriesIndex == w.SeriesIndex, g.SeriesIndex, w.SeriesIndex)
		check("TimeNanos", g.TimeNanos == w.TimeNanos, g.TimeNanos, w.TimeNanos)
		check("Partition", g.Partition == w.Partition, g.Partition, w.Partition)
		check("TotalValue", g.TotalValue == w.TotalValue, g.TotalValue, w.TotalValue)
		check("ID", g.ID == w.ID, g.ID, w.ID)
		check("StacktraceIDs", slices.Equal(g.StacktraceIDs, w.StacktraceIDs), g.StacktraceIDs, w.StacktraceIDs)
		check("Values", slices.Equal(g.Values, w.Values), g.Values, w.Values)
		check("SpanIDs", slices.Equal(g.SpanIDs, w.SpanIDs), g.SpanIDs, w.SpanIDs)
		check("Annotations", slices.Equal(g.Annotations, w.Annotations), g.Annotations, w.Annotations)
		if len(d) > 0 {
			return fmt.Sprintf("row %d (file row %d): %s", i, w.RowNumber, strings.Join(d, "; "))
		}
	}
	if len(got) != len(want) {
		return fmt.Sprintf("got %d rows, want %d", len(got), len(want))
	}
	return ""
}

// countingReaderAt counts the bytes and calls that go through it, and
// the lowest offset read.
type countingReaderAt struct {
	r            io.ReaderAt
	bytes, calls atomic.Int64
	lowest       atomic.Int64
}

func (c *countingReaderAt) ReadAt(b []byte, off int64) (int, error) {
	c.calls.Add(1)
	for {
		low := c.lowest.Load()
		if low != 0 && low <= off || c.lowest.CompareAndSwap(low, off) {
			break
		}
	}
	n, err := c.r.ReadAt(b, off)
	c.bytes.Add(int64(n))
	return n, err
}

func (c *countingReaderAt) reset() {
	c.bytes.Store(0)
	c.calls.Store(0)
	c.lowest.Store(0)
}

// Synthetic profiles tables, written with parquet-go in the layouts the
// real blocks do not cover: many pages and row groups, data pages v1 and
// v2, compression, dictionaries, span IDs, annotations, no page index.

type synthSample struct {
	StacktraceID uint64
	Value        int64
	SpanID       uint64
}

type synthAnnotation struct{ Key, Value string }

type synthProfile struct {
	ID                  [16]byte
	SeriesIndex         uint32
	StacktracePartition uint64
	TotalValue          uint64
	Samples             []synthSample
	TimeNanos           int64
	Annotations         []synthAnnotation
}

// synthVariant picks the optional columns, like the schema variants of
// block-format.md §5.2.
type synthVariant int

const (
	synthA synthVariant = iota // no partition, no total
	synthB                     // partition
	synthC                     // partition, total
	synthD                     // partition, total, span IDs, annotations
)

func synthSchema(v synthVariant) *parquet.Schema {
	delta := func(n parquet.Node) parquet.Node { return parquet.Encoded(n, &parquet.DeltaBinaryPacked) }
	samples := parquet.Group{
		"StacktraceID": delta(parquet.Uint(64)),
		"Value":        delta(parquet.Int(64)),
	}
	g := parquet.Group{
		"ID":          parquet.UUID(),
		"SeriesIndex": delta(parquet.Uint(32)),
		"Samples":     parquet.List(samples),
		"TimeNanos":   parquet.Timestamp(parquet.Nanosecond),
	}
	if v >= synthB {
		g["StacktracePartition"] = delta(parquet.Uint(64))
	}
	if v >= synthC {
		g["TotalValue"] = delta(parquet.Uint(64))
	}
	if v >= synthD {
		samples["SpanID"] = parquet.Optional(parquet.Encoded(parquet.Uint(64), &parquet.RLEDictionary))
		g["Annotations"] = parquet.List(parquet.Group{
			"Key":   parquet.Encoded(parquet.String(), &parquet.DeltaLengthByteArray),
			"Value": parquet.Encoded(parquet.String(), &parquet.DeltaLengthByteArray),
		})
	}
	return parquet.NewSchema("Profile", g)
}

// synthProfiles makes n rows over numSeries series, sorted by series and
// time, with samples as old and new writers store them: some rows empty,
// zero and negative values, duplicate and unsorted IDs.
func synthProfiles(seed uint64, n, numSeries int) []synthProfile {
	rng := rand.New(rand.NewPCG(seed, 42))
	rows := make([]synthProfile, n)
	for i := range rows {
		r := &rows[i]
		r.SeriesIndex = uint32(i * numSeries / n)
		r.TimeNanos = 1_700_000_000_000_000_000 + int64(i%(n/numSeries+1))*15_000_000_000 + rng.Int64N(1_000_000)
		if i > 0 && rows[i-1].SeriesIndex == r.SeriesIndex && r.TimeNanos < rows[i-1].TimeNanos {
			r.TimeNanos = rows[i-1].TimeNanos
		}
		for j := range r.ID {
			r.ID[j] = byte(rng.Uint32())
		}
		r.StacktracePartition = rng.Uint64() // often above 1<<63
		if rng.IntN(10) > 0 {
			for range rng.IntN(300) {
				s := synthSample{StacktraceID: uint64(rng.IntN(5000)), Value: rng.Int64N(1 << 40)}
				switch rng.IntN(20) {
				case 0:
					s.Value = 0
				case 1:
					s.Value = -s.Value
				}
				if rng.IntN(3) == 0 { // spans repeat, as the samples of a trace do
					s.SpanID = uint64(1+rng.IntN(64)) * 0x9e3779b97f4a7c15
				}
				r.Samples = append(r.Samples, s)
			}
		}
		for _, s := range r.Samples {
			if s.Value > 0 {
				r.TotalValue += uint64(s.Value)
			}
		}
		if rng.IntN(8) == 0 {
			for k := range rng.IntN(3) + 1 {
				r.Annotations = append(r.Annotations, synthAnnotation{
					Key:   fmt.Sprintf("key-%d", k),
					Value: fmt.Sprintf("value %d of row %d", k, i),
				})
			}
		}
	}
	return rows
}

// synthOptions shape the synthetic file.
type synthOptions struct {
	variant        synthVariant
	pageVersion    int   // data page version, 1 or 2
	pageBytes      int   // page buffer size; small makes many pages
	rowGroupRows   int64 // 0: one row group
	compression    compress.Codec
	stripPageIndex bool // drop the offset and column indexes from the footer
}

func writeSynthProfiles(tb testing.TB, rows []synthProfile, o synthOptions) []byte {
	tb.Helper()
	opts := []parquet.WriterOption{synthSchema(o.variant), parquet.DataPageVersion(max(o.pageVersion, 1))}
	if o.pageBytes > 0 {
		opts = append(opts, parquet.PageBufferSize(o.pageBytes))
	}
	if o.rowGroupRows > 0 {
		opts = append(opts, parquet.MaxRowsPerRowGroup(o.rowGroupRows))
	}
	if o.compression != nil {
		opts = append(opts, parquet.Compression(o.compression))
	}
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[synthProfile](&buf, opts...)
	if _, err := w.Write(rows); err != nil {
		tb.Fatal(err)
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	if o.stripPageIndex {
		return stripPageIndex(tb, buf.Bytes())
	}
	return buf.Bytes()
}

// stripPageIndex rewrites the footer of a parquet file without page index
// references (the index bytes stay, unreferenced).
func stripPageIndex(tb testing.TB, data []byte) []byte {
	tb.Helper()
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)), parquet.SkipPageIndex(true))
	if err != nil {
		tb.Fatal(err)
	}
	meta := *f.Metadata()
	for g := range meta.RowGroups {
		for c := range meta.RowGroups[g].Columns {
			cc := &meta.RowGroups[g].Columns[c]
			cc.OffsetIndexOffset, cc.OffsetIndexLength = 0, 0
			cc.ColumnIndexOffset, cc.ColumnIndexLength = 0, 0
		}
	}
	return replaceFooter(tb, data, &meta)
}

// replaceFooter writes meta as the footer of data.
func replaceFooter(tb testing.TB, data []byte, meta *format.FileMetaData) []byte {
	tb.Helper()
	footer, err := marshalThrift(meta)
	if err != nil {
		tb.Fatal(err)
	}
	oldLen := int(uint32(data[len(data)-8]) | uint32(data[len(data)-7])<<8 | uint32(data[len(data)-6])<<16 | uint32(data[len(data)-5])<<24)
	out := slices.Clone(data[:len(data)-8-oldLen])
	out = append(out, footer...)
	n := len(footer)
	out = append(out, byte(n), byte(n>>8), byte(n>>16), byte(n>>24))
	return append(out, "PAR1"...)
}

func openBytes(tb testing.TB, data []byte) *ProfilesReader {
	tb.Helper()
	p, err := OpenProfiles(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

func marshalThrift(v any) ([]byte, error) {
	return thrift.Marshal(new(thrift.CompactProtocol), v)
}
