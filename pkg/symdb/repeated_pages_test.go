package symdb

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/cinder-profiling/cinder/pkg/blockreader"
)

// TestRepeatedPagesMatchParquetGo reads Line.FunctionId and Line.Line of
// the format 2 blocks Pyroscope wrote, whose pages hold every partition,
// in row ranges that start, end and cross pages anywhere: the levels
// counted by repeated_pages.go must give the rows parquet-go gives.
func TestRepeatedPagesMatchParquetGo(t *testing.T) {
	td := sharedTestdata(t)
	ctx := context.Background()
	for _, b := range testBlocks {
		if b.format != Format2 {
			continue
		}
		t.Run(b.ulid, func(t *testing.T) {
			files := blockreader.DirFiles(b.path(td))
			pf, err := openParquetFile(ctx, files, "symbols/locations.parquet")
			if err != nil {
				t.Fatal(err)
			}
			ra, _, err := files.ReaderAt(ctx, "symbols/locations.parquet")
			if err != nil {
				t.Fatal(err)
			}
			all, err := pf.allRows()
			if err != nil {
				t.Fatal(err)
			}
			rng := newRand(uint64(len(b.ulid)))
			for _, path := range [][]string{{"Line", "FunctionId"}, {"Line", "Line"}} {
				col, err := pf.column(parquet.Int64, true, path...)
				if err != nil {
					t.Fatal(err)
				}
				cases := [][]rowRange{all}
				for range 40 {
					var ranges []rowRange
					for _, g := range all {
						lo := rng.Uint32N(g.rows)
						ranges = append(ranges, rowRange{rowGroup: g.rowGroup, index: lo, rows: rng.Uint32N(g.rows-lo) + 1})
					}
					cases = append(cases, ranges)
				}
				for _, ranges := range cases {
					rows := rowsIn(ranges)
					wantVals, wantLens, err := pf.scanRepeatedInt64s(ra, col, ranges, rows)
					if err != nil {
						t.Fatal(err)
					}
					gotVals, gotLens, ok, err := pf.readPlainRepeatedInt64s(ra, col, ranges, rows)
					if !ok || err != nil {
						t.Fatalf("%s: ranges %v: not read by its levels (%v)", col.name, ranges, err)
					}
					if !slices.Equal(gotLens, wantLens) || !slices.Equal(gotVals, wantVals) {
						t.Fatalf("%s: ranges %v: %d rows of %d values, parquet-go reads %d rows of %d", col.name, ranges, len(gotLens), len(gotVals), len(wantLens), len(wantVals))
					}
				}
			}
			if len(pf.repeated.m) == 0 {
				t.Fatal("no repeated layout was read")
			}
			for k, rc := range pf.repeated.m {
				if rc.pages == nil {
					t.Errorf("column %d of row group %d is not laid out for reading by its levels", k.column, k.rowGroup)
				}
			}
		})
	}
}

func TestAppendLevels(t *testing.T) {
	cases := []struct {
		name     string
		src      []byte
		n, max   int
		want     []byte
		errMatch string
	}{
		// RLE run of 5 ones, then a bit-packed group 0b10110010.
		{"rle then packed", []byte{5 << 1, 1, 1<<1 | 1, 0b10110010}, 13, 1, []byte{1, 1, 1, 1, 1, 0, 1, 0, 0, 1, 1, 0, 1}, ""},
		{"packed past n", []byte{1<<1 | 1, 0xff}, 3, 1, []byte{1, 1, 1}, ""},
		{"rle past n", []byte{50 << 1, 0}, 4, 1, []byte{0, 0, 0, 0}, ""},
		// Width 2: levels 2,1,0,3 pack into 0b11_00_01_10, then 0.
		{"width 2", []byte{1<<1 | 1, 0b11000110, 0}, 5, 3, []byte{2, 1, 0, 3, 0}, ""},
		{"width 2 above max", []byte{1<<1 | 1, 0b11000110, 0}, 4, 2, nil, "level 3 above 2"},
		{"rle above max", []byte{3 << 1, 2}, 3, 1, nil, "level 2 above 1"},
		{"short stream", []byte{2 << 1, 1}, 3, 1, nil, "run header"},
		{"packed group past end", []byte{3<<1 | 1, 0xff}, 24, 1, nil, "bit-packed groups"},
		{"rle without value", []byte{3 << 1}, 3, 1, nil, "no value"},
		{"huge group count", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, 3, 1, nil, "bit-packed groups"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := appendLevels(nil, c.src, c.n, c.max)
			if c.errMatch != "" {
				if err == nil || !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), c.errMatch) {
					t.Fatalf("got %v, %v; want an ErrCorrupt saying %q", got, err, c.errMatch)
				}
				return
			}
			if err != nil || !slices.Equal(got, c.want) {
				t.Fatalf("got %v, %v; want %v", got, err, c.want)
			}
		})
	}
}

// TestRepeatedPagesCorrupt breaks the repetition levels of a Pyroscope
// page after its layout was read, where the layout keeps them: a load
// must fail with ErrCorrupt, not panic or return other rows. (Definition
// levels are checked once, when the layout is read; a page without nulls
// does not keep them.)
func TestRepeatedPagesCorrupt(t *testing.T) {
	b := blockByULID(t, "01M7ZKZXFDZ9FXMS5N6H6WKMZ7")
	data, err := os.ReadFile(filepath.Join(b.path(sharedTestdata(t)), "symbols", "locations.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	files := memFiles{"l.parquet": data}
	pf, err := openParquetFile(ctx, files, "l.parquet")
	if err != nil {
		t.Fatal(err)
	}
	col, err := pf.column(parquet.Int64, true, "Line", "FunctionId")
	if err != nil {
		t.Fatal(err)
	}
	all, _ := pf.allRows()
	rc, err := pf.repeatedLayout(bytesAt(data), 0, col)
	if err != nil || rc.pages == nil {
		t.Fatalf("no layout: %v", err)
	}
	rep := rc.pages[0].rep
	good := slices.Clone(rep)
	for _, c := range []struct {
		name string
		edit func(d []byte)
	}{
		{"repetition levels zeroed", func(d []byte) { clear(d) }},
		{"levels of ones", func(d []byte) {
			for i := range d {
				d[i] = 0xff
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.edit(rep)
			defer copy(rep, good)
			_, _, ok, err := pf.readPlainRepeatedInt64s(bytesAt(data), col, all, rowsIn(all))
			if !ok || !errors.Is(err, ErrCorrupt) {
				t.Fatalf("got ok %v, %v; want ErrCorrupt", ok, err)
			}
		})
	}
}

// bytesAt is an io.ReaderAt over b.
type bytesAt []byte

func (b bytesAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off > int64(len(b)) {
		return 0, io.EOF
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}
