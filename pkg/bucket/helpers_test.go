package bucket

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/thanos-io/objstore"

	"github.com/cinder-profiling/cinder/internal/repopath"
)

// Blocks of ../shared/testdata/blocks (block-format.md §12).
const (
	fixtureV1     = "01GR3QABQB6J30Q04K4E6MAKRE" // meta v1, minTime == maxTime == 1675162365672
	fixtureV2     = "01H3YE0W63FNXM69N2WVTRBYYK" // meta v2
	fixtureV3     = "01HA2V3CPSZ9E0HMQNNHH89WSS" // meta v3, symdb format 2
	fixtureV3Tiny = "01HD3X85G9BGAG4S3TKPNMFG4Z" // meta v3, times 1000..20000 ms
	medium1       = "01M7ZKZGFHVR6271E3X0RSYZC6"
	medium2       = "01M7ZKZPRPDPR89X36K6KNWZ22"
	medium3       = "01M7ZKZXFDZ9FXMS5N6H6WKMZ7"
)

// fixturesByMinTime are the fixture blocks in Blocks() order.
var fixturesByMinTime = []string{fixtureV3Tiny, fixtureV1, fixtureV2, fixtureV3}

// testdataRoot returns ../shared/testdata/blocks relative to the repository
// root (the directory holding go.mod), skipping the test when it is absent.
func testdataRoot(t testing.TB) string {
	t.Helper()
	td, err := repopath.SharedTestdata()
	if err != nil {
		t.Skipf("cannot locate ../shared/testdata: %v", err)
	}
	root := filepath.Join(td, "blocks")
	if _, err := os.Stat(filepath.Join(root, "fixtures")); err != nil {
		t.Skipf("shared test blocks not found at %s: %v", root, err)
	}
	return root
}

// bucketKind is a backend the syncer tests run against.
type bucketKind string

const (
	inMemoryBucket   bucketKind = "inmem"
	filesystemBucket bucketKind = "filesystem"
)

var bucketKinds = []bucketKind{inMemoryBucket, filesystemBucket}

// newTestBucket returns an empty, writable bucket of the given kind.
func newTestBucket(t testing.TB, kind bucketKind) objstore.Bucket {
	t.Helper()
	switch kind {
	case inMemoryBucket:
		return objstore.NewInMemBucket()
	case filesystemBucket:
		cfg := Config{Backend: BackendFilesystem, Filesystem: FilesystemConfig{Directory: t.TempDir()}}
		bkt, err := NewBucket(context.Background(), cfg, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		return bkt
	}
	t.Fatalf("unknown bucket kind %q", kind)
	return nil
}

// uploadTree uploads every file under src (a bucket root of the shared test
// data, e.g. "fixtures") to bkt, keeping relative names. The filesystem
// bucket thereby gets a writable copy in its temporary directory.
func uploadTree(t testing.TB, bkt objstore.Bucket, src string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return bkt.Upload(context.Background(), filepath.ToSlash(rel), bytes.NewReader(data))
	})
	if err != nil {
		t.Fatal(err)
	}
}

// copyBlock uploads the block id of the shared test data root src to bkt
// under tenant, as block newID (the meta.json is rewritten to match).
func copyBlock(t testing.TB, bkt objstore.Bucket, src, id, tenant, newID string) {
	t.Helper()
	dir := filepath.Join(src, "anonymous", "phlaredb", id)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if rel == "meta.json" && newID != id {
			data = bytes.Replace(data, []byte(id), []byte(newID), 1)
		}
		return bkt.Upload(context.Background(), tenant+"/phlaredb/"+newID+"/"+filepath.ToSlash(rel), bytes.NewReader(data))
	})
	if err != nil {
		t.Fatal(err)
	}
}

func mustGet(t testing.TB, bkt objstore.BucketReader, name string) []byte {
	t.Helper()
	rc, err := bkt.Get(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func mustUpload(t testing.TB, bkt objstore.Bucket, name string, data []byte) {
	t.Helper()
	if err := bkt.Upload(context.Background(), name, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
}

func mustDelete(t testing.TB, bkt objstore.Bucket, name string) {
	t.Helper()
	if err := bkt.Delete(context.Background(), name); err != nil {
		t.Fatal(err)
	}
}

// deleteDir deletes every object under dir (with a trailing slash).
func deleteDir(t testing.TB, bkt objstore.Bucket, dir string) {
	t.Helper()
	var names []string
	err := bkt.Iter(context.Background(), dir, func(name string) error {
		names = append(names, name)
		return nil
	}, objstore.WithRecursiveIter())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		mustDelete(t, bkt, n)
	}
}

// deletionMarkJSON returns a deletion mark of block id made at time at.
func deletionMarkJSON(t testing.TB, id string, at time.Time) []byte {
	t.Helper()
	data, err := json.Marshal(deletionMark{ID: ulid.MustParse(id), Version: deletionMarkVersion1, DeletionTime: at.Unix()})
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// recordingBucket wraps a bucket, counts Get calls per object and can be
// told to fail listings.
type recordingBucket struct {
	objstore.Bucket

	mu      sync.Mutex
	gets    map[string]int
	iters   map[string]int
	exists  int
	iterErr map[string]error // dir → error; "*" fails every listing
}

func newRecordingBucket(b objstore.Bucket) *recordingBucket {
	return &recordingBucket{Bucket: b, gets: map[string]int{}, iters: map[string]int{}, iterErr: map[string]error{}}
}

func (b *recordingBucket) Exists(ctx context.Context, name string) (bool, error) {
	b.mu.Lock()
	b.exists++
	b.mu.Unlock()
	return b.Bucket.Exists(ctx, name)
}

func (b *recordingBucket) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	b.mu.Lock()
	b.gets[name]++
	b.mu.Unlock()
	return b.Bucket.Get(ctx, name)
}

func (b *recordingBucket) Iter(ctx context.Context, dir string, f func(string) error, opts ...objstore.IterOption) error {
	b.mu.Lock()
	b.iters[dir]++
	err, ok := b.iterErr[dir]
	if !ok {
		err = b.iterErr["*"]
	}
	b.mu.Unlock()
	if err != nil {
		return err
	}
	return b.Bucket.Iter(ctx, dir, f, opts...)
}

func (b *recordingBucket) failIter(dir string, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err == nil {
		delete(b.iterErr, dir)
		return
	}
	b.iterErr[dir] = err
}

// getCount returns how often name was read.
func (b *recordingBucket) getCount(name string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.gets[name]
}

// iterCount returns how often dir was listed.
func (b *recordingBucket) iterCount(dir string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.iters[dir]
}

// getsUnder returns the number of reads of objects under prefix.
func (b *recordingBucket) getsUnder(prefix string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for name, c := range b.gets {
		if strings.HasPrefix(name, prefix) {
			n += c
		}
	}
	return n
}

// logRecorder is a slog.Handler that keeps every record for assertions.
type logRecorder struct {
	mu      *sync.Mutex
	records *[]slog.Record
	attrs   []slog.Attr
}

func newLogRecorder() *logRecorder {
	return &logRecorder{mu: &sync.Mutex{}, records: &[]slog.Record{}}
}

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }

func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	r = r.Clone()
	r.AddAttrs(h.attrs...)
	h.mu.Lock()
	defer h.mu.Unlock()
	*h.records = append(*h.records, r)
	return nil
}

func (h *logRecorder) WithAttrs(as []slog.Attr) slog.Handler {
	return &logRecorder{mu: h.mu, records: h.records, attrs: append(slices.Clip(h.attrs), as...)}
}

func (h *logRecorder) WithGroup(string) slog.Handler { return h }

// count returns the number of records at level whose attributes include
// every key=value pair of kv (values compared as strings).
func (h *logRecorder) count(level slog.Level, kv ...string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, r := range *h.records {
		if r.Level != level {
			continue
		}
		attrs := map[string]string{}
		r.Attrs(func(a slog.Attr) bool {
			attrs[a.Key] = a.Value.String()
			return true
		})
		match := true
		for i := 0; i+1 < len(kv); i += 2 {
			if attrs[kv[i]] != kv[i+1] {
				match = false
			}
		}
		if match {
			n++
		}
	}
	return n
}

// blockIDs returns the ULIDs of blocks as strings, in order.
func blockIDs(blocks []*Block) []string {
	ids := make([]string, len(blocks))
	for i, b := range blocks {
		ids[i] = b.ID().String()
	}
	return ids
}

func equalIDs(t testing.TB, what string, got []*Block, want []string) {
	t.Helper()
	if g := blockIDs(got); !slices.Equal(g, want) {
		t.Errorf("%s: got blocks %v, want %v", what, g, want)
	}
}
