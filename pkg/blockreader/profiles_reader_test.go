package blockreader

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/gzip"
	"github.com/parquet-go/parquet-go/compress/snappy"
	"github.com/parquet-go/parquet-go/compress/zstd"
)

// profilesBlock is a block of the shared test data and what the README and
// block-format.md §12 say of its profiles.parquet.
type profilesBlock struct {
	ulid         string
	rows         int64
	samples      int
	hasTotal     bool
	hasPartition bool
	hasSpanID    bool
}

var profilesBlocks = []profilesBlock{
	{"01GR3QABQB6J30Q04K4E6MAKRE", 2, 48, false, false, false},
	{"01H3YE0W63FNXM69N2WVTRBYYK", 12, 955, false, true, false},
	{"01HA2V3CPSZ9E0HMQNNHH89WSS", 163, 3672, true, true, false},
	{"01HD3X85G9BGAG4S3TKPNMFG4Z", 20, 20, true, true, false},
	{"01M7ZKZGFHVR6271E3X0RSYZC6", 3854, 692057, true, true, true},
	{"01M7ZKZPRPDPR89X36K6KNWZ22", 4199, 756474, true, true, true},
	{"01M7ZKZXFDZ9FXMS5N6H6WKMZ7", 3540, 638633, true, true, true},
}

func readProfilesFile(tb testing.TB, testdata string, ulid string) []byte {
	tb.Helper()
	return readBlockFile(tb, testdata, blockByULID(tb, ulid), ProfilesFilename)
}

// allTime selects every timestamp.
func allTime(series []uint32) ProfileSelection {
	return ProfileSelection{SeriesIndexes: series, StartNanos: math.MinInt64, EndNanos: math.MaxInt64}
}

// columnSets are the column combinations the tests try.
var columnSets = []ProfileColumns{
	0,
	ColumnSamples,
	ColumnTotalValue,
	ColumnID,
	ColumnPartition,
	ColumnSpanIDs,
	ColumnAnnotations,
	ColumnSamples | ColumnTotalValue | ColumnPartition,
	ColumnSpanIDs | ColumnTotalValue,
	AllProfileColumns,
}

func TestProfilesReaderBlocks(t *testing.T) {
	testdata := sharedTestdata(t)
	for _, b := range profilesBlocks {
		t.Run(b.ulid, func(t *testing.T) {
			data := readProfilesFile(t, testdata, b.ulid)
			p := openBytes(t, data)
			if p.NumRows() != b.rows {
				t.Errorf("NumRows() = %d, want %d", p.NumRows(), b.rows)
			}
			if p.HasTotalValue() != b.hasTotal || p.HasPartition() != b.hasPartition || p.HasSpanID() != b.hasSpanID {
				t.Errorf("HasTotalValue, HasPartition, HasSpanID = %t, %t, %t, want %t, %t, %t",
					p.HasTotalValue(), p.HasPartition(), p.HasSpanID(), b.hasTotal, b.hasPartition, b.hasSpanID)
			}
			table := readProfilesTable(t, data)
			if int64(len(table.rows)) != b.rows {
				t.Fatalf("oracle read %d rows, want %d", len(table.rows), b.rows)
			}
			all := allTime(table.seriesIndexes())
			for _, cols := range columnSets {
				got := scanAll(t, p, all, cols)
				if d := diffRows(got, table.expected(all, cols)); d != "" {
					t.Fatalf("columns %b: %s", cols, d)
				}
				if cols&ColumnSamples != 0 {
					n := 0
					for _, r := range got {
						n += len(r.StacktraceIDs)
					}
					if n != b.samples {
						t.Errorf("columns %b: %d samples, want %d", cols, n, b.samples)
					}
				}
			}
			testRandomSelections(t, p, table, 60)
		})
	}
}

// testRandomSelections checks Scan against the oracle for random subsets
// of series and time windows, including windows bounded exactly at a
// row's timestamp and one nanosecond either side of it.
func testRandomSelections(t *testing.T, p *ProfilesReader, table *profilesTable, n int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(uint64(len(table.rows)), 7))
	series := table.seriesIndexes()
	maxSeries := uint32(0)
	if len(series) > 0 {
		maxSeries = series[len(series)-1]
	}
	times := func() int64 {
		if len(table.rows) == 0 {
			return rng.Int64()
		}
		return table.rows[rng.IntN(len(table.rows))].TimeNanos + rng.Int64N(3) - 1
	}
	for i := range n {
		var sel ProfileSelection
		switch i % 5 {
		case 0: // one series
			sel.SeriesIndexes = []uint32{uint32(rng.IntN(int(maxSeries) + 2))}
		case 1: // none
		default:
			for s := range maxSeries + 2 {
				if rng.IntN(4) == 0 {
					sel.SeriesIndexes = append(sel.SeriesIndexes, s)
				}
			}
		}
		switch rng.IntN(5) {
		case 0:
			sel.StartNanos, sel.EndNanos = math.MinInt64, math.MaxInt64
		case 1: // a single instant
			sel.StartNanos = times()
			sel.EndNanos = sel.StartNanos
		case 2: // inverted
			sel.StartNanos, sel.EndNanos = times(), math.MinInt64
		default:
			sel.StartNanos, sel.EndNanos = times(), times()
			if sel.StartNanos > sel.EndNanos {
				sel.StartNanos, sel.EndNanos = sel.EndNanos, sel.StartNanos
			}
		}
		cols := columnSets[rng.IntN(len(columnSets))]
		got := scanAll(t, p, sel, cols)
		if d := diffRows(got, table.expected(sel, cols)); d != "" {
			t.Fatalf("selection %+v, columns %b: %s", sel, cols, d)
		}
	}
}

func TestProfilesReaderFixtureFacts(t *testing.T) {
	testdata := sharedTestdata(t)
	open := func(t *testing.T, ulid string) (*ProfilesReader, []ProfileRow) {
		p := openBytes(t, readProfilesFile(t, testdata, ulid))
		rows := scanAll(t, p, allTime(seq(0, 200)), AllProfileColumns)
		if int64(len(rows)) != p.NumRows() {
			t.Fatalf("scanned %d rows of %d", len(rows), p.NumRows())
		}
		return p, rows
	}
	t.Run("01GR3QABQB6J30Q04K4E6MAKRE", func(t *testing.T) { // meta v1
		_, rows := open(t, "01GR3QABQB6J30Q04K4E6MAKRE")
		id, _ := hex.DecodeString("77b360f9d7fc46c291617cf84e41be22")
		zeros, samples := 0, 0
		for _, r := range rows {
			if r.TimeNanos != 1675162365672040622 || !bytes.Equal(r.ID[:], id) || r.Partition != 0 {
				t.Errorf("row %d: TimeNanos %d, ID %x, partition %d", r.RowNumber, r.TimeNanos, r.ID, r.Partition)
			}
			if r.TotalValue != positiveSum(r.Values) {
				t.Errorf("row %d: computed TotalValue %d, want %d", r.RowNumber, r.TotalValue, positiveSum(r.Values))
			}
			samples += len(r.Values)
			for _, v := range r.Values {
				if v == 0 {
					zeros++
				}
			}
		}
		if samples != 48 || zeros != 14 {
			t.Errorf("%d samples with %d zeros, want 48 with 14", samples, zeros)
		}
		if want := []uint64{0, 1, 2}; !slices.Equal(rows[0].StacktraceIDs[:3], want) || rows[0].Values[1] != 512 {
			t.Errorf("row 0 starts with %v / %v", rows[0].StacktraceIDs[:3], rows[0].Values[:3])
		}
	})
	t.Run("01H3YE0W63FNXM69N2WVTRBYYK", func(t *testing.T) { // meta v2, no TotalValue
		p, rows := open(t, "01H3YE0W63FNXM69N2WVTRBYYK")
		if p.HasTotalValue() {
			t.Error("HasTotalValue")
		}
		for _, r := range rows {
			if r.Partition != 11628947081572311966 {
				t.Errorf("row %d: partition %d", r.RowNumber, r.Partition)
			}
		}
		r0 := rows[0]
		if len(r0.StacktraceIDs) != 363 || r0.StacktraceIDs[0] != 2830 || r0.Values[0] != 1 {
			t.Errorf("row 0: %d samples starting with (%d, %d), want 363 starting with (2830, 1)", len(r0.StacktraceIDs), r0.StacktraceIDs[0], r0.Values[0])
		}
		if !slices.IsSortedFunc(r0.StacktraceIDs, func(a, b uint64) int { return int(b) - int(a) }) {
			t.Error("row 0: stack-trace IDs are not in descending order as stored")
		}
	})
	t.Run("01HA2V3CPSZ9E0HMQNNHH89WSS", func(t *testing.T) { // meta v3
		_, rows := open(t, "01HA2V3CPSZ9E0HMQNNHH89WSS")
		r0 := rows[0]
		if r0.TimeNanos != 1694460120000000000 || r0.TotalValue != 540 || len(r0.StacktraceIDs) != 142 {
			t.Errorf("row 0: TimeNanos %d, TotalValue %d, %d samples", r0.TimeNanos, r0.TotalValue, len(r0.StacktraceIDs))
		}
		if r0.StacktraceIDs[0] != 25 || r0.Values[0] != 6 {
			t.Errorf("row 0 starts with (%d, %d), want (25, 6)", r0.StacktraceIDs[0], r0.Values[0])
		}
		partitions := map[uint64]bool{}
		for _, r := range rows {
			partitions[r.Partition] = true
		}
		if !partitions[16008627246773262042] || !partitions[18207616157194957051] || len(partitions) != 2 {
			t.Errorf("partitions %v", partitions)
		}
	})
	t.Run("01HD3X85G9BGAG4S3TKPNMFG4Z", func(t *testing.T) { // two row groups
		p, rows := open(t, "01HD3X85G9BGAG4S3TKPNMFG4Z")
		if p.NumRowGroups() != 2 {
			t.Errorf("%d row groups, want 2", p.NumRowGroups())
		}
		for i, r := range rows {
			wantSeries, wantTime := uint32(i/10), int64(i+1)*1e9
			if r.SeriesIndex != wantSeries || r.TimeNanos != wantTime || r.Partition != 10671237351553527577 {
				t.Errorf("row %d: series %d at %d, partition %d", i, r.SeriesIndex, r.TimeNanos, r.Partition)
			}
			if !slices.Equal(r.StacktraceIDs, []uint64{3}) || !slices.Equal(r.Values, []int64{1}) || r.TotalValue != 1 {
				t.Errorf("row %d: samples %v %v, total %d", i, r.StacktraceIDs, r.Values, r.TotalValue)
			}
		}
		// Series 1 lives in the second row group only, whose data starts
		// with its ID column; the statistics of the first rule it out.
		cr := &countingReaderAt{r: p.r}
		p.r = cr
		got := scanAll(t, p, allTime([]uint32{1}), AllProfileColumns)
		if len(got) != 10 || got[0].RowNumber != 10 {
			t.Errorf("series 1: %d rows from row %d", len(got), got[0].RowNumber)
		}
		second := p.rowGroups[1].chunks[colID].start
		t.Logf("series 1: %d bytes read from offset %d on; the second row group starts at %d", cr.bytes.Load(), cr.lowest.Load(), second)
		if cr.lowest.Load() < second {
			t.Errorf("series 1: read at offset %d, before the second row group at %d", cr.lowest.Load(), second)
		}
		// Bounds are inclusive.
		got = scanAll(t, p, ProfileSelection{SeriesIndexes: []uint32{0, 1}, StartNanos: 10e9, EndNanos: 11e9}, 0)
		if len(got) != 2 || got[0].TimeNanos != 10e9 || got[1].TimeNanos != 11e9 {
			t.Errorf("[10s, 11s]: %+v", got)
		}
		got = scanAll(t, p, ProfileSelection{SeriesIndexes: []uint32{0, 1}, StartNanos: 10e9 + 1, EndNanos: 11e9 - 1}, 0)
		if len(got) != 0 {
			t.Errorf("(10s, 11s): %d rows", len(got))
		}
	})
}

func seq(from, to uint32) []uint32 {
	var s []uint32
	for i := from; i < to; i++ {
		s = append(s, i)
	}
	return s
}

func TestProfilesReaderTotalValue(t *testing.T) {
	testdata := sharedTestdata(t)
	for _, b := range profilesBlocks {
		t.Run(b.ulid, func(t *testing.T) {
			data := readProfilesFile(t, testdata, b.ulid)
			table := readProfilesTable(t, data)
			if table.hasTotal {
				for i, r := range table.rows {
					if table.storedTotal[i] != positiveSum(r.Values) {
						t.Fatalf("row %d: stored TotalValue %d, positive samples add up to %d", i, table.storedTotal[i], positiveSum(r.Values))
					}
				}
			}
			// Without samples asked for, TotalValue is read or computed all the same.
			p := openBytes(t, data)
			got := scanAll(t, p, allTime(table.seriesIndexes()), ColumnTotalValue)
			for i, r := range got {
				if r.TotalValue != positiveSum(table.rows[i].Values) || r.Values != nil {
					t.Fatalf("row %d: TotalValue %d (values %v), want %d", i, r.TotalValue, r.Values, positiveSum(table.rows[i].Values))
				}
			}
		})
	}
}

// TestProfilesReaderSkips checks that narrow selections read little of a
// medium block: only the pages that can hold the selected rows.
func TestProfilesReaderSkips(t *testing.T) {
	testdata := sharedTestdata(t)
	data := readProfilesFile(t, testdata, "01M7ZKZGFHVR6271E3X0RSYZC6")
	size := int64(len(data))
	cr := &countingReaderAt{r: bytes.NewReader(data)}
	p, err := OpenProfiles(cr, size)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("open: %d bytes in %d reads", cr.bytes.Load(), cr.calls.Load())
	if cr.calls.Load() != 1 {
		t.Errorf("open made %d reads, want 1 (footer and page index in the tail)", cr.calls.Load())
	}
	table := readProfilesTable(t, data)
	scanBytes := func(sel ProfileSelection, cols ProfileColumns) (int64, int) {
		cr.reset()
		n := len(scanAll(t, p, sel, cols))
		return cr.bytes.Load(), n
	}
	lastSeries := table.rows[len(table.rows)-1].SeriesIndex
	tests := []struct {
		name     string
		sel      ProfileSelection
		cols     ProfileColumns
		maxBytes int64
	}{
		{"series and time of every row", allTime(table.seriesIndexes()), 0, size / 50},
		// The last sample pages of this file start at row 3456; the series
		// of that row onwards sit in them alone.
		{"last series with samples", allTime([]uint32{lastSeries}), ColumnSamples | ColumnTotalValue, size / 10},
		{"outside the block", ProfileSelection{SeriesIndexes: table.seriesIndexes(), StartNanos: 1, EndNanos: 2}, AllProfileColumns, 0},
		{"series not in the block", allTime([]uint32{100000}), AllProfileColumns, 0},
	}
	for _, tt := range tests {
		n, rows := scanBytes(tt.sel, tt.cols)
		t.Logf("%s: %d rows, %d bytes read of %d (%.1f%%) in %d reads", tt.name, rows, n, size, 100*float64(n)/float64(size), cr.calls.Load())
		if n > tt.maxBytes {
			t.Errorf("%s: read %d bytes, want at most %d", tt.name, n, tt.maxBytes)
		}
	}

	// A one-series scan reads the SeriesIndex chunk, then the pages of the
	// other columns that hold the series' rows, as parquet-go's own offset
	// index locates them, and nothing else.
	f, err := parquet.OpenFile(bytes.NewReader(data), size)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.RowGroups()) != 1 {
		t.Fatalf("%d row groups", len(f.RowGroups()))
	}
	chunkSize := func(path string) int64 {
		leaf, _ := f.Schema().Lookup(strings.Split(path, ".")...)
		return f.Metadata().RowGroups[0].Columns[leaf.ColumnIndex].MetaData.TotalCompressedSize
	}
	pagesBytes := func(path string, rows []int64) int64 {
		leaf, _ := f.Schema().Lookup(strings.Split(path, ".")...)
		pages := f.OffsetIndexes()[leaf.ColumnIndex].PageLocations
		var n int64
		for i, pl := range pages {
			end := f.NumRows()
			if i+1 < len(pages) {
				end = pages[i+1].FirstRowIndex
			}
			if slices.ContainsFunc(rows, func(r int64) bool { return r >= pl.FirstRowIndex && r < end }) {
				n += int64(pl.CompressedPageSize)
			}
		}
		return n
	}
	var total, minimum int64
	for _, s := range table.seriesIndexes() {
		var rows []int64
		for _, r := range table.expected(allTime([]uint32{s}), 0) {
			rows = append(rows, r.RowNumber)
		}
		samples := pagesBytes("Samples.list.element.StacktraceID", rows) + pagesBytes("Samples.list.element.Value", rows)
		want := chunkSize("SeriesIndex") + pagesBytes("TimeNanos", rows) + samples
		n, _ := scanBytes(allTime([]uint32{s}), ColumnSamples)
		if n != want {
			t.Errorf("series %d (rows %d to %d): read %d bytes, want %d", s, rows[0], rows[len(rows)-1], n, want)
		}
		total += n
		if minimum == 0 || n < minimum {
			minimum = n
		}
	}
	t.Logf("one series with samples: %d bytes on average, %d at least, of %d", total/int64(len(table.seriesIndexes())), minimum, size)
}

// synthCases are the layouts of synthetic files tested.
var synthCases = []struct {
	name string
	opts synthOptions
}{
	{"variant A", synthOptions{variant: synthA}},
	{"variant B", synthOptions{variant: synthB}},
	{"variant C small pages", synthOptions{variant: synthC, pageBytes: 4 << 10}},
	{"variant D", synthOptions{variant: synthD}},
	{"variant D small pages", synthOptions{variant: synthD, pageBytes: 2 << 10}},
	{"variant D page v2", synthOptions{variant: synthD, pageVersion: 2, pageBytes: 8 << 10}},
	{"variant D row groups", synthOptions{variant: synthD, rowGroupRows: 97, pageBytes: 4 << 10}},
	{"variant D no page index", synthOptions{variant: synthD, pageBytes: 4 << 10, stripPageIndex: true}},
	{"variant D no page index v2", synthOptions{variant: synthD, pageVersion: 2, pageBytes: 4 << 10, rowGroupRows: 300, stripPageIndex: true}},
	{"variant D snappy", synthOptions{variant: synthD, pageBytes: 4 << 10, compression: &snappy.Codec{}}},
	{"variant D zstd v2", synthOptions{variant: synthD, pageVersion: 2, pageBytes: 4 << 10, compression: &zstd.Codec{}}},
	{"variant D gzip no page index", synthOptions{variant: synthD, compression: &gzip.Codec{}, stripPageIndex: true}},
}

func TestProfilesReaderSynthetic(t *testing.T) {
	rows := synthProfiles(1, 1500, 37)
	for i, tc := range synthCases {
		t.Run(tc.name, func(t *testing.T) {
			data := writeSynthProfiles(t, rows, tc.opts)
			p := openBytes(t, data)
			table := readProfilesTable(t, data)
			if p.HasSpanID() != table.hasSpanID || p.HasAnnotations() != table.hasAnnotations || p.HasTotalValue() != table.hasTotal || p.HasPartition() != table.hasPartition {
				t.Errorf("column detection differs from the schema")
			}
			all := allTime(table.seriesIndexes())
			for _, cols := range columnSets {
				if d := diffRows(scanAll(t, p, all, cols), table.expected(all, cols)); d != "" {
					t.Fatalf("columns %b: %s", cols, d)
				}
			}
			testRandomSelections(t, p, table, 100+i)
		})
	}
}

// TestProfilesReaderSyntheticSkips checks page skipping where the file has
// many small pages.
func TestProfilesReaderSyntheticSkips(t *testing.T) {
	rows := synthProfiles(2, 3000, 50)
	data := writeSynthProfiles(t, rows, synthOptions{variant: synthD, pageBytes: 4 << 10})
	cr := &countingReaderAt{r: bytes.NewReader(data)}
	p, err := OpenProfiles(cr, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	table := readProfilesTable(t, data)
	for _, s := range []uint32{0, 25, 49} {
		cr.reset()
		sel := allTime([]uint32{s})
		got := scanAll(t, p, sel, AllProfileColumns)
		if d := diffRows(got, table.expected(sel, AllProfileColumns)); d != "" {
			t.Fatal(d)
		}
		t.Logf("series %d: %d rows, %d of %d bytes", s, len(got), cr.bytes.Load(), len(data))
		if n := cr.bytes.Load(); n > int64(len(data))/10 {
			t.Errorf("series %d: read %d of %d bytes", s, n, len(data))
		}
	}
}

func TestProfilesReaderMissingColumns(t *testing.T) {
	base := parquet.Group{
		"SeriesIndex": parquet.Uint(32),
		"TimeNanos":   parquet.Int(64),
		"Samples": parquet.List(parquet.Group{
			"StacktraceID": parquet.Uint(64),
			"Value":        parquet.Int(64),
		}),
	}
	with := func(change func(g parquet.Group)) parquet.Group {
		g := parquet.Group{}
		for k, v := range base {
			g[k] = v
		}
		change(g)
		return g
	}
	tests := []struct {
		name   string
		schema parquet.Group
		ok     bool
	}{
		{"minimal", base, true},
		{"no SeriesIndex", with(func(g parquet.Group) { delete(g, "SeriesIndex") }), false},
		{"no TimeNanos", with(func(g parquet.Group) { delete(g, "TimeNanos") }), false},
		{"no samples", with(func(g parquet.Group) { delete(g, "Samples") }), false},
		{"no values", with(func(g parquet.Group) {
			g["Samples"] = parquet.List(parquet.Group{"StacktraceID": parquet.Uint(64)})
		}), false},
		{"SeriesIndex INT64", with(func(g parquet.Group) { g["SeriesIndex"] = parquet.Int(64) }), false},
		{"TimeNanos string", with(func(g parquet.Group) { g["TimeNanos"] = parquet.String() }), false},
		{"TimeNanos optional", with(func(g parquet.Group) { g["TimeNanos"] = parquet.Optional(parquet.Int(64)) }), false},
		{"samples not a list", with(func(g parquet.Group) {
			g["Samples"] = parquet.Group{"list": parquet.Group{"element": parquet.Group{"StacktraceID": parquet.Uint(64), "Value": parquet.Int(64)}}}
		}), false},
		{"TotalValue INT32", with(func(g parquet.Group) { g["TotalValue"] = parquet.Int(32) }), false},
		{"ID of 8 bytes", with(func(g parquet.Group) { g["ID"] = parquet.Leaf(parquet.FixedLenByteArrayType(8)) }), false},
		{"annotation keys only", with(func(g parquet.Group) {
			g["Annotations"] = parquet.List(parquet.Group{"Key": parquet.String()})
		}), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			w := parquet.NewWriter(&buf, parquet.NewSchema("Profile", tt.schema))
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			p, err := OpenProfiles(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
			if tt.ok {
				if err != nil {
					t.Fatal(err)
				}
				if p.NumRows() != 0 || len(scanAll(t, p, allTime([]uint32{0}), AllProfileColumns)) != 0 {
					t.Error("rows in an empty file")
				}
				return
			}
			if !errors.Is(err, ErrMissingColumn) {
				t.Fatalf("OpenProfiles: %v, want ErrMissingColumn", err)
			}
			t.Log(err)
		})
	}
}

// Buffers lent from one scan to the next, across files, selections and
// columns, change nothing in what a scan reads.
func TestProfilesReaderScanBuffers(t *testing.T) {
	files := []*ProfilesReader{
		openBytes(t, writeSynthProfiles(t, synthProfiles(3, 400, 4), synthOptions{variant: synthD, pageBytes: 2 << 10})),
		openBytes(t, writeSynthProfiles(t, synthProfiles(5, 300, 6), synthOptions{variant: synthD, pageBytes: 4 << 10})),
	}
	bufs := &ScanBuffers{Max: 1}
	var first *profileScan
	for round := range 3 {
		for i, p := range files {
			for _, c := range []struct {
				sel  ProfileSelection
				cols ProfileColumns
			}{
				{allTime(seq(0, 4)), AllProfileColumns},
				{allTime([]uint32{1, 3}), ColumnSamples},
				{allTime([]uint32{2}), ColumnTotalValue | ColumnID},
			} {
				got := scanAllWith(t, p, bufs, c.sel, c.cols)
				if d := diffRows(got, scanAll(t, p, c.sel, c.cols)); d != "" {
					t.Fatalf("round %d, file %d, series %v: %s", round, i, c.sel.SeriesIndexes, d)
				}
				if len(bufs.free) != 1 {
					t.Fatalf("%d scans kept, want 1", len(bufs.free))
				}
				if first == nil {
					first = bufs.free[0]
				} else if bufs.free[0] != first {
					t.Fatal("a scan's buffers were not reused by the next scan")
				}
			}
		}
	}
}

func TestProfilesReaderScanErrors(t *testing.T) {
	data := writeSynthProfiles(t, synthProfiles(3, 400, 4), synthOptions{variant: synthD, pageBytes: 2 << 10})
	p := openBytes(t, data)
	all := allTime(seq(0, 4))
	t.Run("callback error", func(t *testing.T) {
		stop := errors.New("stop")
		calls := 0
		err := p.Scan(context.Background(), all, ColumnSamples, func(*ProfileRow) error {
			calls++
			return stop
		})
		if err != stop || calls != 1 {
			t.Errorf("Scan = %v after %d calls, want the callback's error after 1", err, calls)
		}
	})
	t.Run("canceled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := p.Scan(ctx, all, ColumnSamples, func(*ProfileRow) error { return nil }); !errors.Is(err, context.Canceled) {
			t.Errorf("Scan = %v, want context.Canceled", err)
		}
	})
	t.Run("canceled during the scan", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		calls := 0
		err := p.Scan(ctx, all, ColumnSamples, func(*ProfileRow) error {
			calls++
			cancel()
			return nil
		})
		if !errors.Is(err, context.Canceled) || calls >= 400 {
			t.Errorf("Scan = %v after %d calls, want context.Canceled at the next page", err, calls)
		}
	})
	t.Run("series out of order", func(t *testing.T) {
		for _, s := range [][]uint32{{2, 1}, {1, 1}} {
			if err := p.Scan(context.Background(), allTime(s), 0, func(*ProfileRow) error { return nil }); err == nil {
				t.Errorf("series %v: no error", s)
			}
		}
	})
	t.Run("empty selections read nothing", func(t *testing.T) {
		cr := &countingReaderAt{r: bytes.NewReader(data)}
		p := openBytes(t, data)
		p.r = cr
		for _, sel := range []ProfileSelection{
			allTime(nil),
			{SeriesIndexes: []uint32{0}, StartNanos: 2, EndNanos: 1},
		} {
			if rows := scanAll(t, p, sel, AllProfileColumns); len(rows) != 0 {
				t.Errorf("%+v: %d rows", sel, len(rows))
			}
		}
		if cr.calls.Load() != 0 {
			t.Errorf("%d reads", cr.calls.Load())
		}
	})
}

func TestProfilesReaderConcurrent(t *testing.T) {
	rows := synthProfiles(4, 2000, 20)
	data := writeSynthProfiles(t, rows, synthOptions{variant: synthD, pageBytes: 4 << 10})
	p := openBytes(t, data)
	table := readProfilesTable(t, data)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 20 {
				sel := allTime([]uint32{uint32((g*20 + i) % 19), 19})
				if d := diffRows(scanAll(t, p, sel, AllProfileColumns), table.expected(sel, AllProfileColumns)); d != "" {
					t.Error(d)
					return
				}
			}
		})
	}
	wg.Wait()
}

// corruptionSeeds returns small profiles tables to damage: the fixture
// blocks when present, and synthetic files in the other layouts.
func corruptionSeeds(tb testing.TB) [][]byte {
	var seeds [][]byte
	if testdata, ok := findSharedTestdata(); ok {
		for _, b := range profilesBlocks[:4] {
			seeds = append(seeds, readProfilesFile(tb, testdata, b.ulid))
		}
	}
	// Few samples keep the seeds small, which the fuzzer needs to mutate
	// and minimize inputs quickly.
	rows := synthProfiles(5, 40, 3)
	for i := range rows {
		r := &rows[i]
		r.Samples = r.Samples[:min(len(r.Samples), 4)]
		r.TotalValue = 0
		for _, s := range r.Samples {
			r.TotalValue += uint64(max(s.Value, 0))
		}
	}
	for _, o := range []synthOptions{
		{variant: synthD, pageBytes: 1 << 10},
		{variant: synthD, pageVersion: 2, pageBytes: 1 << 10, stripPageIndex: true},
		{variant: synthD, pageBytes: 1 << 10, compression: &snappy.Codec{}},
	} {
		seeds = append(seeds, writeSynthProfiles(tb, rows, o))
	}
	return seeds
}

// openAndScan opens data and scans all of it, as the fuzz target does. It
// must return an error or nil, never panic.
func openAndScan(data []byte) error {
	p, err := OpenProfiles(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return err
	}
	return p.Scan(context.Background(), allTime(seq(0, 64)), AllProfileColumns, func(r *ProfileRow) error {
		if len(r.StacktraceIDs) != len(r.Values) {
			return errors.New("samples do not pair up")
		}
		return nil
	})
}

func TestProfilesReaderCorruption(t *testing.T) {
	for i, data := range corruptionSeeds(t) {
		if err := openAndScan(data); err != nil {
			t.Fatalf("seed %d: %v", i, err)
		}
		// Truncated files lose their footer.
		for n := range len(data) {
			if n > 64 && n < len(data)-4096 && n%97 != 0 {
				continue
			}
			if _, err := OpenProfiles(bytes.NewReader(data[:n]), int64(n)); err == nil {
				t.Errorf("seed %d truncated to %d bytes: no error", i, n)
			}
		}
		// Every byte of the footer flipped in turn.
		footerLen := int(data[len(data)-8]) | int(data[len(data)-7])<<8 | int(data[len(data)-6])<<16 | int(data[len(data)-5])<<24
		damaged := slices.Clone(data)
		failures := 0
		for off := len(data) - 8 - footerLen; off < len(data); off++ {
			for _, mask := range []byte{0xff, 0x01, 0x80} {
				damaged[off] ^= mask
				if openAndScan(damaged) != nil {
					failures++
				}
				damaged[off] ^= mask
			}
		}
		t.Logf("seed %d: %d of %d footer flips rejected", i, failures, 3*(footerLen+8))
		// Random damage anywhere, several bytes at a time.
		rng := rand.New(rand.NewPCG(uint64(i), 9))
		for range 300 {
			copy(damaged, data)
			for range 1 + rng.IntN(8) {
				damaged[rng.IntN(len(damaged))] = byte(rng.Uint32())
			}
			_ = openAndScan(damaged)
		}
	}
}

// TestProfilesReaderHostileSizes checks that lengths in the file cannot
// make the reader allocate far more than the file's size.
func TestProfilesReaderHostileSizes(t *testing.T) {
	data := writeSynthProfiles(t, synthProfiles(6, 50, 2), synthOptions{variant: synthD})
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	md := *f.Metadata()
	tests := []struct {
		name   string
		damage func()
	}{
		{"huge row count", func() { md.RowGroups[0].NumRows = 1 << 40; md.NumRows = 1 << 40 }},
		{"huge value count", func() { md.RowGroups[0].Columns[4].MetaData.NumValues = 1 << 40 }},
		{"chunk past the end", func() { md.RowGroups[0].Columns[4].MetaData.TotalCompressedSize = 1 << 40 }},
		{"page index past the end", func() { md.RowGroups[0].Columns[6].OffsetIndexLength = 1 << 30 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			md = *f.Metadata()
			md.RowGroups = slices.Clone(md.RowGroups)
			md.RowGroups[0].Columns = slices.Clone(md.RowGroups[0].Columns)
			tt.damage()
			bad := replaceFooter(t, data, &md)
			if err := openAndScan(bad); err == nil {
				t.Error("no error")
			} else {
				t.Log(err)
			}
		})
	}
	// A footer length beyond the file.
	bad := slices.Clone(data)
	bad[len(bad)-5] = 0x7f
	if _, err := OpenProfiles(bytes.NewReader(bad), int64(len(bad))); !errors.Is(err, ErrMalformedParquet) {
		t.Errorf("footer length past the start: %v", err)
	}
}

func FuzzOpenProfiles(f *testing.F) {
	for _, seed := range corruptionSeeds(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = openAndScan(data)
	})
}

// largestReadAt records the longest read made through it.
type largestReadAt struct {
	r       io.ReaderAt
	largest atomic.Int64
}

func (l *largestReadAt) ReadAt(b []byte, off int64) (int, error) {
	for n := int64(len(b)); ; {
		cur := l.largest.Load()
		if n <= cur || l.largest.CompareAndSwap(cur, n) {
			break
		}
	}
	return l.r.ReadAt(b, off)
}

// A reader opened WithReadAhead fetches no more than that beyond the page
// it needs, with and without an offset index, and reads the same rows.
func TestProfilesReaderReadAhead(t *testing.T) {
	rows := synthProfiles(3, 3000, 50)
	for _, strip := range []bool{false, true} {
		data := writeSynthProfiles(t, rows, synthOptions{variant: synthD, pageBytes: 4 << 10, stripPageIndex: strip})
		table := readProfilesTable(t, data)
		sel := allTime(table.seriesIndexes())
		want := table.expected(sel, AllProfileColumns)
		largest := map[bool]int64{}
		for _, short := range []bool{false, true} {
			var opts []ProfilesOption
			if short {
				opts = append(opts, WithReadAhead(8<<10))
			}
			lr := &largestReadAt{r: bytes.NewReader(data)}
			p, err := OpenProfiles(lr, int64(len(data)), opts...)
			if err != nil {
				t.Fatal(err)
			}
			lr.largest.Store(0) // the footer's read is not a page's
			if d := diffRows(scanAll(t, p, sel, AllProfileColumns), want); d != "" {
				t.Fatalf("page index stripped %v, short read-ahead %v: %s", strip, short, d)
			}
			largest[short] = lr.largest.Load()
		}
		t.Logf("page index stripped %v: largest read %d bytes by default, %d with 8 KiB of read-ahead (file %d bytes)", strip, largest[false], largest[true], len(data))
		// Pages are about 4 KiB; a dictionary page may come along with
		// the first, and a chunk without an offset index is probed 64 KiB
		// at a time for a page header.
		if limit := int64(80 << 10); largest[true] > limit {
			t.Errorf("page index stripped %v: a read of %d bytes with 8 KiB of read-ahead, want at most %d", strip, largest[true], limit)
		}
		if largest[false] <= largest[true] {
			t.Errorf("page index stripped %v: the default read-ahead read at most %d bytes at once, no more than 8 KiB of it (%d)", strip, largest[false], largest[true])
		}
	}
}
