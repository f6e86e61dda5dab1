package symdb

import (
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cinder-profiling/cinder/pkg/blockreader"
)

// corruptionCase is a block in memory and the files whose every byte a
// checksum protects.
type corruptionCase struct {
	name    string
	version int
	files   memFiles
	crcd    []string // every byte covered by a CRC: any change must fail
	other   []string // parquet: changes must not panic, errors must name the file
}

func corruptionCases(t *testing.T) []corruptionCase {
	td := sharedTestdata(t)
	read := func(dir string, names ...string) memFiles {
		m := memFiles{}
		for _, n := range names {
			b, err := os.ReadFile(filepath.Join(td, dir, filepath.FromSlash(n)))
			if err != nil {
				t.Fatal(err)
			}
			m[n] = b
		}
		return m
	}
	var cases []corruptionCase

	// symdb/v1 has no symbol tables: give it synthetic root tables and it
	// is a meta v2 block.
	v1 := read("symdb/v1", "index.symdb", "stacktraces.symdb")
	p := randomPartition(newRand(9), 0, 10, 0)
	locs, fns, mps, strs := parquetTablesOf(&p.tables)
	v1files := memFiles{
		"symbols/index.symdb":       v1["index.symdb"],
		"symbols/stacktraces.symdb": v1["stacktraces.symdb"],
		"locations.parquet":         writeParquet(t, locs, 100),
		"functions.parquet":         writeParquet(t, fns, 100),
		"mappings.parquet":          writeParquet(t, mps, 100),
		"strings.parquet":           writeParquet(t, strs, 100),
	}
	cases = append(cases, corruptionCase{"symdb/v1", 2, v1files, []string{"symbols/index.symdb", "symbols/stacktraces.symdb"}, nil})

	v2 := read("symdb/v2", "index.symdb", "stacktraces.symdb", "locations.parquet", "functions.parquet", "mappings.parquet", "strings.parquet")
	v2files := memFiles{}
	for n, b := range v2 {
		v2files["symbols/"+n] = b
	}
	cases = append(cases, corruptionCase{"symdb/v2", 3, v2files, []string{"symbols/index.symdb", "symbols/stacktraces.symdb"},
		[]string{"symbols/locations.parquet", "symbols/strings.parquet"}})

	cases = append(cases, corruptionCase{"symdb/v3", 3, read("symdb/v3", "symbols.symdb"), []string{"symbols.symdb"}, nil})

	meta2 := read(filepath.Join(fixturesDir, "01H3YE0W63FNXM69N2WVTRBYYK"), "symbols/index.symdb", "symbols/stacktraces.symdb",
		"locations.parquet", "functions.parquet", "mappings.parquet", "strings.parquet")
	cases = append(cases, corruptionCase{"meta v2 block", 2, meta2, []string{"symbols/index.symdb", "symbols/stacktraces.symdb"},
		[]string{"locations.parquet", "functions.parquet", "mappings.parquet", "strings.parquet"}})

	tiny := read(filepath.Join(fixturesDir, "01HD3X85G9BGAG4S3TKPNMFG4Z"), "symbols/index.symdb", "symbols/stacktraces.symdb",
		"symbols/locations.parquet", "symbols/functions.parquet", "symbols/mappings.parquet", "symbols/strings.parquet")
	cases = append(cases, corruptionCase{"tiny v3 block", 3, tiny, []string{"symbols/index.symdb", "symbols/stacktraces.symdb"},
		[]string{"symbols/locations.parquet", "symbols/functions.parquet", "symbols/mappings.parquet", "symbols/strings.parquet"}})
	return cases
}

// loadAll opens a block and loads and walks every partition.
func loadAll(meta *blockreader.Meta, files memFiles) error {
	ctx := context.Background()
	r, err := Open(ctx, meta, files)
	if err != nil {
		return err
	}
	for _, k := range r.PartitionKeys() {
		p, err := r.Partition(ctx, k)
		if err != nil {
			return err
		}
		var buf []int32
		for id := uint64(0); id < uint64(p.Tree.Len()); id++ {
			buf, _ = p.AppendLocations(buf[:0], id)
		}
	}
	return nil
}

// positions returns the byte offsets to corrupt: all of a small file, and a
// spread of a large one plus its last 256 bytes (footers).
func positions(size, limit int) []int {
	if testing.Short() {
		limit /= 10
	}
	if size <= limit {
		return rangeN(size)
	}
	var out []int
	step := size / limit
	for i := 0; i < size; i += step {
		out = append(out, i)
	}
	for i := max(0, size-256); i < size; i++ {
		out = append(out, i)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func rangeN(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

func TestCorruption(t *testing.T) {
	for _, c := range corruptionCases(t) {
		t.Run(c.name, func(t *testing.T) {
			meta := metaOf(c.version, c.files)
			if err := loadAll(meta, c.files); err != nil {
				t.Fatalf("the intact block fails: %v", err)
			}
			check := func(file, what string, err error, mustFail bool) {
				t.Helper()
				if err == nil {
					if mustFail {
						t.Fatalf("%s %s: no error", file, what)
					}
					return
				}
				if !strings.Contains(err.Error(), file) {
					t.Fatalf("%s %s: error does not name the file: %v", file, what, err)
				}
				if mustFail && !errors.Is(err, ErrCorrupt) {
					t.Fatalf("%s %s: error is not ErrCorrupt: %v", file, what, err)
				}
			}
			for _, file := range slices.Concat(c.crcd, c.other) {
				mustFail := slices.Contains(c.crcd, file)
				orig := c.files[file]
				limit, masks := 500, []byte{0x01, 0x80}
				if !mustFail {
					// parquet: slow to load, nothing to prove but "no panic"
					limit, masks = 60, []byte{0xff}
				}
				for _, i := range positions(len(orig), limit) {
					for _, mask := range masks {
						bad := maps.Clone(c.files)
						b := slices.Clone(orig)
						b[i] ^= mask
						bad[file] = b
						check(file, "flipped at "+strconv.Itoa(i), loadAll(meta, bad), mustFail)
					}
				}
				for _, n := range truncations(len(orig)) {
					bad := maps.Clone(c.files)
					bad[file] = orig[:n]
					// The meta keeps the old size, as a bucket listing would.
					check(file, "truncated to "+strconv.Itoa(n), loadAll(meta, bad), true)
				}
			}
		})
	}
}

func truncations(size int) []int {
	out := []int{0, 1, 4, 16, 23, 24, 25, 36, size / 3, size / 2, size - 25, size - 24, size - 5, size - 4, size - 1}
	out = slices.DeleteFunc(out, func(n int) bool { return n < 0 || n >= size })
	slices.Sort(out)
	return slices.Compact(out)
}
