package symdb

import (
	"context"
	"io"
	"runtime"
	"slices"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/snappy"

	"github.com/cinder-profiling/cinder/pkg/blockreader"
)

// TestParquetPageLayouts reads the same tables as parquet-go can write
// them, in row ranges that cross pages and row groups: v1 and v2 data
// pages and many pages per chunk go the plain path (plain_pages.go and,
// for the repeated Line columns, repeated_pages.go) and strings the
// dictionary path (string_dictionary.go), compressed pages
// through parquet-go; all must read the same rows.
func TestParquetPageLayouts(t *testing.T) {
	p := randomPartition(newRand(21), 0, 300, 0)
	want := &p.tables
	for i := range 300 { // enough strings and functions to span pages
		want.strings = append(want.strings, want.strings[i%len(want.strings)]+"x")
		want.functions = append(want.functions, want.functions[i%25])
	}
	locs, fns, mps, strs := parquetTablesOf(want)
	const rowsPerGroup = 100
	v1 := parquet.DataPageVersion(1)
	small := parquet.PageBufferSize(256)
	for _, c := range []struct {
		name       string
		plain      bool
		multiPages bool
		opts       []parquet.WriterOption
	}{
		{"v2", true, false, nil},
		{"v1", true, false, []parquet.WriterOption{v1}},
		{"v2_small_pages", true, true, []parquet.WriterOption{small}},
		{"v1_small_pages", true, true, []parquet.WriterOption{v1, small}},
		{"snappy", false, false, []parquet.WriterOption{parquet.Compression(&snappy.Codec{})}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			files := memFiles{
				"l.parquet": writeParquet(t, locs, rowsPerGroup, c.opts...),
				"f.parquet": writeParquet(t, fns, rowsPerGroup, c.opts...),
				"m.parquet": writeParquet(t, mps, 2, c.opts...),
				"s.parquet": writeParquet(t, strs, rowsPerGroup, c.opts...),
			}
			open := func(name string) *parquetFile {
				pf, err := openParquetFile(ctx, files, name)
				if err != nil {
					t.Fatal(err)
				}
				return pf
			}
			ra := func(name string) io.ReaderAt {
				r, _, _ := files.ReaderAt(ctx, name)
				return r
			}
			lf, ff, mf, sf := open("l.parquet"), open("f.parquet"), open("m.parquet"), open("s.parquet")
			gotLocs, err := lf.readLocations(ra("l.parquet"), rangesOf(len(want.locations), rowsPerGroup, 37))
			if err != nil {
				t.Fatal(err)
			}
			gotFns, err := ff.readFunctions(ra("f.parquet"), rangesOf(len(want.functions), rowsPerGroup, 37))
			if err != nil {
				t.Fatal(err)
			}
			gotMps, err := mf.readMappings(ra("m.parquet"), rangesOf(len(want.mappings), 2, 1))
			if err != nil {
				t.Fatal(err)
			}
			strRanges := rangesOf(len(want.strings), rowsPerGroup, 37)
			gotStrs, err := sf.readStringTable(ra("s.parquet"), strRanges)
			if err != nil {
				t.Fatal(err)
			}
			checkTables(t, &Partition{Locations: gotLocs, Functions: gotFns, Mappings: gotMps, Strings: gotStrs}, want)
			strCol, err := sf.column(parquet.ByteArray, false, "String")
			if err != nil {
				t.Fatal(err)
			}
			if byParquetGo, err := sf.readStrings(ra("s.parquet"), strCol, strRanges, len(want.strings)); err != nil || !slices.Equal(byParquetGo, want.strings) {
				t.Errorf("strings read by parquet-go differ (%v)", err)
			}
			if len(sf.dictionaries.m) == 0 {
				t.Error("no string dictionary layout was read")
			}
			strPages := 0
			for g, d := range sf.dictionaries.m {
				if d.ok != c.plain {
					t.Errorf("strings: row group %d: read by dictionary strides %v, want %v", g, d.ok, c.plain)
				}
				strPages = max(strPages, len(d.pages))
			}
			if c.plain && c.multiPages != (strPages > 1) {
				t.Errorf("strings: at most %d pages of entry numbers per chunk", strPages)
			}
			pages := 0
			for _, pf := range []*parquetFile{lf, ff, mf} {
				for k, pc := range pf.layouts.m {
					if (pc.pages != nil) != c.plain {
						t.Errorf("%s: column %d of row group %d: plain %v, want %v", pf.relPath, k.column, k.rowGroup, pc.pages != nil, c.plain)
					}
					pages = max(pages, len(pc.pages))
				}
			}
			if c.multiPages != (pages > 1) {
				t.Errorf("at most %d pages per chunk", pages)
			}
			if len(lf.repeated.m) == 0 {
				t.Error("no layout of the repeated Line columns was read")
			}
			for k, rc := range lf.repeated.m {
				if (rc.pages != nil) != c.plain {
					t.Errorf("locations: repeated column %d of row group %d read by its levels %v, want %v", k.column, k.rowGroup, rc.pages != nil, c.plain)
				}
				if c.plain && c.multiPages != (len(rc.pages) > 1) {
					t.Errorf("locations: repeated column %d of row group %d has %d pages", k.column, k.rowGroup, len(rc.pages))
				}
			}
		})
	}
}

// rangesOf splits rows [0, n) into ranges of at most step rows that do not
// cross row groups of rowsPerGroup rows.
func rangesOf(n, rowsPerGroup, step int) []rowRange {
	var out []rowRange
	for lo := 0; lo < n; {
		hi := min(n, lo+step, (lo/rowsPerGroup+1)*rowsPerGroup)
		out = append(out, rowRange{rowGroup: uint32(lo / rowsPerGroup), index: uint32(lo % rowsPerGroup), rows: uint32(hi - lo)})
		lo = hi
	}
	return out
}

// TestParquetFileRetains opens the symbol tables of a block many times and
// checks what an open parquetFile keeps alive: its decoded footer, not the
// 64 KiB read from the end of the file to find it.
func TestParquetFileRetains(t *testing.T) {
	b := blockByULID(t, "01M7ZKZGFHVR6271E3X0RSYZC6")
	files := blockreader.DirFiles(b.path(sharedTestdata(t)))
	ctx := context.Background()
	for _, name := range tableFileNames {
		relPath := "symbols/" + name
		t.Run(name, func(t *testing.T) {
			const n = 20
			open := make([]*parquetFile, n)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			for i := range open {
				pf, err := openParquetFile(ctx, files, relPath)
				if err != nil {
					t.Fatal(err)
				}
				open[i] = pf
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			per := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / n
			t.Logf("%d bytes an open file (size %d)", per, open[0].size)
			if per > 16<<10 {
				t.Errorf("an open %s keeps %d bytes", name, per)
			}
			runtime.KeepAlive(open)
		})
	}
}
