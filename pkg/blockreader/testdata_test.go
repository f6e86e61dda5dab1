package blockreader

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/cinder-profiling/cinder/internal/repopath"
)

// testBlock is a block of the shared test data and what its README and
// block-format.md say about it.
type testBlock struct {
	ulid      string
	dir       string // relative to the shared testdata directory
	version   int
	level     int
	minTime   int64 // ms
	maxTime   int64 // ms
	numSeries int
}

const (
	fixturesDir = "blocks/fixtures/anonymous/phlaredb"
	mediumDir   = "blocks/medium/anonymous/phlaredb"
	partialDir  = "partial"
)

var testBlocks = []testBlock{
	{"01GR3QABQB6J30Q04K4E6MAKRE", fixturesDir, 1, 0, 1675162365672, 1675162365672, 2},
	{"01H3YE0W63FNXM69N2WVTRBYYK", fixturesDir, 2, 0, 1687869747221, 1687869765512, 9},
	{"01HA2V3CPSZ9E0HMQNNHH89WSS", fixturesDir, 3, 1, 1694460120000, 1694460210000, 18},
	{"01HD3X85G9BGAG4S3TKPNMFG4Z", fixturesDir, 3, 1, 1000, 20000, 2},
	{"01M7ZKZGFHVR6271E3X0RSYZC6", mediumDir, 3, 1, 1709251500849, 1709254796305, 146},
	{"01M7ZKZPRPDPR89X36K6KNWZ22", mediumDir, 3, 1, 1709254814673, 1709258399586, 153},
	{"01M7ZKZXFDZ9FXMS5N6H6WKMZ7", mediumDir, 3, 1, 1709258414239, 1709261399537, 148},
	{"01HHYG6245NWHZWVP27V8WJRT7", partialDir, 3, 2, 1702904400005, 1702906199998, 362},
}

// tinyBlock is the 1022-byte index that block-format.md annotates.
const tinyBlock = "01HD3X85G9BGAG4S3TKPNMFG4Z"

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

func (b testBlock) path(testdata, file string) string {
	return filepath.Join(testdata, b.dir, b.ulid, file)
}

func readBlockFile(tb testing.TB, testdata string, b testBlock, file string) []byte {
	tb.Helper()
	data, err := os.ReadFile(b.path(testdata, file))
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

func blockByULID(tb testing.TB, id string) testBlock {
	for _, b := range testBlocks {
		if b.ulid == id {
			return b
		}
	}
	tb.Fatalf("no test block %s", id)
	return testBlock{}
}
