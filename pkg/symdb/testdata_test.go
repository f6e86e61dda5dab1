package symdb

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/cinder-profiling/cinder/internal/repopath"
	"github.com/cinder-profiling/cinder/pkg/blockreader"
)

// Directories of the shared test data, relative to ../shared/testdata.
const (
	fixturesDir = "blocks/fixtures/anonymous/phlaredb"
	mediumDir   = "blocks/medium/anonymous/phlaredb"
	partialDir  = "partial"
	symdbDir    = "symdb"
)

// testBlock is a block of the shared test data.
type testBlock struct {
	ulid   string
	dir    string
	format int
}

var testBlocks = []testBlock{
	{"01GR3QABQB6J30Q04K4E6MAKRE", fixturesDir, FormatStacktracesParquet},
	{"01H3YE0W63FNXM69N2WVTRBYYK", fixturesDir, Format1},
	{"01HA2V3CPSZ9E0HMQNNHH89WSS", fixturesDir, Format2},
	{"01HD3X85G9BGAG4S3TKPNMFG4Z", fixturesDir, Format2},
	{"01M7ZKZGFHVR6271E3X0RSYZC6", mediumDir, Format2},
	{"01M7ZKZPRPDPR89X36K6KNWZ22", mediumDir, Format2},
	{"01M7ZKZXFDZ9FXMS5N6H6WKMZ7", mediumDir, Format2},
	{"01HHYG6245NWHZWVP27V8WJRT7", partialDir, Format2},
}

// sharedTestdata returns the shared test data directory, found beside the
// repository root, or skips the test when it is not there.
func sharedTestdata(tb testing.TB) string {
	tb.Helper()
	dir, ok := findSharedTestdata()
	if !ok {
		tb.Skipf("shared test data is missing (looked for ../shared/testdata beside the repository root %q)", dir)
	}
	return dir
}

func findSharedTestdata() (string, bool) {
	root, err := repopath.Root()
	if err != nil {
		return "", false
	}
	td := filepath.Join(root, "..", "shared", "testdata")
	if fi, err := os.Stat(td); err != nil || !fi.IsDir() {
		return root, false
	}
	return td, true
}

func (b testBlock) path(testdata string) string {
	return filepath.Join(testdata, b.dir, b.ulid)
}

func blockByULID(tb testing.TB, id string) testBlock {
	tb.Helper()
	for _, b := range testBlocks {
		if b.ulid == id {
			return b
		}
	}
	tb.Fatalf("no test block %s", id)
	return testBlock{}
}

// openTestBlock opens the symbols of a shared test block through its
// meta.json, as the server does.
func openTestBlock(tb testing.TB, b testBlock, opts ...Option) *Reader {
	tb.Helper()
	dir := b.path(sharedTestdata(tb))
	data, err := os.ReadFile(filepath.Join(dir, blockreader.MetaFilename))
	if err != nil {
		tb.Fatal(err)
	}
	meta, err := blockreader.ParseMeta(data)
	if err != nil {
		tb.Fatal(err)
	}
	r, err := Open(context.Background(), meta, blockreader.DirFiles(dir), opts...)
	if err != nil {
		tb.Fatalf("block %s: %v", b.ulid, err)
	}
	return r
}

// openSymdbDir opens one of the symdb-only samples (symdb/v1, v2, v3),
// which have no meta.json: all files lie in one directory. The v1 sample has
// no symbol tables, so only its stack traces can be loaded (loadStacktraces).
func openSymdbDir(tb testing.TB, name string) *Reader {
	tb.Helper()
	dir := filepath.Join(sharedTestdata(tb), symdbDir, name)
	var l layout
	switch name {
	case "v1":
		l = layout{format: formatFromIndex, indexFile: indexSymdbName, dataFile: stacktracesSymdbName}
	case "v2":
		l = layout{format: formatFromIndex, indexFile: indexSymdbName, dataFile: stacktracesSymdbName, tableFiles: tableFileNames}
	case "v3":
		l = layout{format: Format3, dataFile: symbolsSymdbName}
	default:
		tb.Fatalf("no symdb sample %q", name)
	}
	r, err := open(context.Background(), blockreader.DirFiles(dir), l)
	if err != nil {
		tb.Fatalf("symdb/%s: %v", name, err)
	}
	return r
}

// Frames returns the function names of a stack, root first: the lines of
// each location are expanded innermost first, leaf to root, then the whole
// list is reversed (block-format.md §11.1).
func Frames(p *Partition, id uint64) ([]string, error) {
	locs, err := p.AppendLocations(nil, id)
	if err != nil {
		return nil, err
	}
	var frames []string
	for _, l := range locs {
		for _, line := range p.Locations[l].Lines {
			frames = append(frames, p.Strings[p.Functions[line.FunctionID].Name])
		}
	}
	slices.Reverse(frames)
	return frames, nil
}

// mustFrames is Frames for tests that expect the ID to resolve.
func mustFrames(tb testing.TB, p *Partition, id uint64) []string {
	tb.Helper()
	f, err := Frames(p, id)
	if err != nil {
		tb.Fatalf("stack %d: %v", id, err)
	}
	return f
}

func mustPartition(tb testing.TB, r *Reader, key uint64) *Partition {
	tb.Helper()
	p, err := r.Partition(context.Background(), key)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}
