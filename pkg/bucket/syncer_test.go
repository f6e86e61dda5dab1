package bucket

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/thanos-io/objstore"

	"github.com/cinder-profiling/cinder/pkg/blockreader"
)

// testSyncer returns a syncer over bkt with its own registry and a log
// recorder.
func testSyncer(t testing.TB, bkt objstore.BucketReader, cfg SyncConfig) (*Syncer, *logRecorder) {
	t.Helper()
	logs := newLogRecorder()
	return NewSyncer(bkt, cfg, slog.New(logs), prometheus.NewPedanticRegistry()), logs
}

func mustSync(t testing.TB, s *Syncer) {
	t.Helper()
	if err := s.SyncOnce(context.Background()); err != nil {
		t.Fatalf("SyncOnce: %v", err)
	}
}

func TestSyncerLoadsRealBlocks(t *testing.T) {
	root := testdataRoot(t)
	for _, tc := range []struct {
		name     string
		src      string
		want     []string // in Blocks() order
		versions []int
	}{
		{"fixtures", "fixtures", fixturesByMinTime, []int{3, 1, 2, 3}},
		{"medium", "medium", []string{medium1, medium2, medium3}, []int{3, 3, 3}},
	} {
		for _, kind := range bucketKinds {
			t.Run(tc.name+"/"+string(kind), func(t *testing.T) {
				bkt := newTestBucket(t, kind)
				uploadTree(t, bkt, filepath.Join(root, tc.src))
				s, logs := testSyncer(t, bkt, SyncConfig{})
				if s.Ready() {
					t.Fatal("Ready before the first sync")
				}
				mustSync(t, s)
				if !s.Ready() {
					t.Fatal("not Ready after the first sync")
				}

				if got := s.Tenants(); !slices.Equal(got, []string{"anonymous"}) {
					t.Errorf("Tenants() = %v", got)
				}
				blocks := s.AllBlocks("anonymous")
				equalIDs(t, "AllBlocks", blocks, tc.want)
				for i, b := range blocks {
					if b.Meta.Version != tc.versions[i] {
						t.Errorf("block %s: version %d, want %d", b.ID(), b.Meta.Version, tc.versions[i])
					}
					if b.Tenant != "anonymous" || b.Dir() != "anonymous/phlaredb/"+tc.want[i] {
						t.Errorf("block %s: tenant %q, dir %q", b.ID(), b.Tenant, b.Dir())
					}
					idx, _ := b.Meta.File("index.tsdb")
					if b.Index == nil || uint64(b.Index.Bytes()) != idx.SizeBytes {
						t.Errorf("block %s: index not loaded in full", b.ID())
					}
				}
				if got := testutil.ToFloat64(s.metrics.blocksLoaded.WithLabelValues("anonymous")); got != float64(len(tc.want)) {
					t.Errorf("cinder_bucket_blocks_loaded = %v, want %d", got, len(tc.want))
				}
				if got := testutil.ToFloat64(s.metrics.corruptBlocks.WithLabelValues("anonymous")); got != 0 {
					t.Errorf("cinder_bucket_corrupt_blocks = %v, want 0", got)
				}
				if got := testutil.ToFloat64(s.metrics.lastSuccessful); got == 0 {
					t.Error("cinder_bucket_last_successful_sync_timestamp_seconds not set")
				}
				if n := logs.count(slog.LevelWarn) + logs.count(slog.LevelError); n != 0 {
					t.Errorf("%d warnings or errors logged for good blocks", n)
				}
			})
		}
	}
}

// TestSyncerPrefixedFilesystem runs the syncer over a filesystem bucket
// built by NewBucket with a storage prefix, as the server does.
func TestSyncerPrefixedFilesystem(t *testing.T) {
	root := testdataRoot(t)
	dir := t.TempDir()
	raw, err := NewBucket(context.Background(), Config{Backend: BackendFilesystem, Filesystem: FilesystemConfig{Directory: dir}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Upload into the prefix directly; a stray block at the root must not be
	// seen through the prefix.
	for _, id := range fixturesByMinTime {
		copyBlock(t, raw, filepath.Join(root, "fixtures"), id, "pyroscope/anonymous", id)
	}
	copyBlock(t, raw, filepath.Join(root, "medium"), medium1, "anonymous", medium1)

	reg := prometheus.NewPedanticRegistry()
	cfg := Config{Backend: BackendFilesystem, Prefix: "/pyroscope/", Filesystem: FilesystemConfig{Directory: dir}}
	bkt, err := NewBucket(context.Background(), cfg, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	s := NewSyncer(bkt, SyncConfig{}, nil, reg)
	mustSync(t, s)
	equalIDs(t, "AllBlocks", s.AllBlocks("anonymous"), fixturesByMinTime)
	if got := s.AllBlocks("anonymous")[0].Dir(); got != "anonymous/phlaredb/"+fixtureV3Tiny {
		t.Errorf("Dir() = %q; block paths must be relative to the prefix", got)
	}
	// The bucket is instrumented with the same registry.
	if n, err := testutil.GatherAndCount(reg, "cinder_objstore_bucket_operations_total"); err != nil || n == 0 {
		t.Errorf("cinder_objstore_bucket_operations_total: %d series, err %v", n, err)
	}
}

func TestSyncerBlocksOverlap(t *testing.T) {
	root := testdataRoot(t)
	bkt := objstore.NewInMemBucket()
	uploadTree(t, bkt, filepath.Join(root, "fixtures"))
	s, _ := testSyncer(t, bkt, SyncConfig{})
	mustSync(t, s)

	const (
		v1Time    = 1675162365672 // minTime == maxTime of fixtureV1
		v2Min     = 1687869747221
		v2Max     = 1687869765512
		v3Min     = 1694460120000
		v3Max     = 1694460210000
		tinyMin   = 1000
		tinyMax   = 20000
		afterAll  = v3Max + 1
		beforeAll = tinyMin - 1
	)
	for _, tc := range []struct {
		name       string
		tenant     string
		start, end int64
		want       []string
	}{
		{"single instant block, exact instant", "anonymous", v1Time, v1Time, []string{fixtureV1}},
		{"start == maxTime", "anonymous", v1Time, v1Time + 1000, []string{fixtureV1}},
		{"end == minTime", "anonymous", v1Time - 1000, v1Time, []string{fixtureV1}},
		{"start == maxTime+1", "anonymous", v1Time + 1, v2Min - 1, nil},
		{"end == minTime-1", "anonymous", v2Max + 1, v3Min - 1, nil},
		{"start == maxTime of a range block", "anonymous", v2Max, v2Max, []string{fixtureV2}},
		{"end == minTime of a range block", "anonymous", v3Min, v3Min, []string{fixtureV3}},
		{"inside a block", "anonymous", v3Min + 10, v3Max - 10, []string{fixtureV3}},
		{"tiny block boundaries", "anonymous", tinyMax, tinyMax, []string{fixtureV3Tiny}},
		{"spanning two blocks", "anonymous", v1Time, v2Min, []string{fixtureV1, fixtureV2}},
		{"everything", "anonymous", math.MinInt64, math.MaxInt64, fixturesByMinTime},
		{"before all", "anonymous", math.MinInt64, beforeAll, nil},
		{"after all", "anonymous", afterAll, math.MaxInt64, nil},
		{"start after end", "anonymous", v3Max, v3Min, nil},
		{"unknown tenant", "other", math.MinInt64, math.MaxInt64, nil},
		{"path-like tenant", "../anonymous", math.MinInt64, math.MaxInt64, nil},
		{"empty tenant", "", math.MinInt64, math.MaxInt64, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			equalIDs(t, "Blocks", s.Blocks(tc.tenant, tc.start, tc.end), tc.want)
		})
	}
}

func TestSyncerDeletionMarks(t *testing.T) {
	root := testdataRoot(t)
	now := time.Unix(1_800_000_000, 0)
	const (
		local  = "anonymous/phlaredb/" + fixtureV2 + "/deletion-mark.json"
		global = "anonymous/phlaredb/markers/" + fixtureV2 + "-deletion-mark.json"
	)
	for _, tc := range []struct {
		name           string
		delay          time.Duration
		objects        map[string][]byte
		hidden         bool
		markerFailures float64
	}{
		{"local mark, no delay", 0, map[string][]byte{local: deletionMarkJSON(t, fixtureV2, now)}, true, 0},
		{"global mark, no delay", 0, map[string][]byte{global: deletionMarkJSON(t, fixtureV2, now)}, true, 0},
		{"both marks, no delay", 0, map[string][]byte{local: deletionMarkJSON(t, fixtureV2, now), global: deletionMarkJSON(t, fixtureV2, now)}, true, 0},
		{"local mark older than delay", time.Hour, map[string][]byte{local: deletionMarkJSON(t, fixtureV2, now.Add(-2*time.Hour))}, true, 0},
		{"global mark older than delay", time.Hour, map[string][]byte{global: deletionMarkJSON(t, fixtureV2, now.Add(-time.Hour))}, true, 0},
		{"local mark within delay", time.Hour, map[string][]byte{local: deletionMarkJSON(t, fixtureV2, now.Add(-time.Minute))}, false, 0},
		{"global mark within delay", time.Hour, map[string][]byte{global: deletionMarkJSON(t, fixtureV2, now.Add(-time.Minute))}, false, 0},
		{"earliest of two marks counts", time.Hour, map[string][]byte{local: deletionMarkJSON(t, fixtureV2, now.Add(-2*time.Hour)), global: deletionMarkJSON(t, fixtureV2, now)}, true, 0},
		{"corrupt global mark dates from now", time.Hour, map[string][]byte{global: []byte("{")}, false, 1},
		{"corrupt local mark, no delay", 0, map[string][]byte{local: []byte(`{"version": 2}`)}, true, 1},
		{"no-compact mark is not a deletion mark", 0, map[string][]byte{"anonymous/phlaredb/markers/" + fixtureV2 + "-no-compact-mark.json": []byte("{}")}, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bkt := objstore.NewInMemBucket()
			uploadTree(t, bkt, filepath.Join(root, "fixtures"))
			for name, data := range tc.objects {
				mustUpload(t, bkt, name, data)
			}
			s, _ := testSyncer(t, bkt, SyncConfig{DeletionDelay: tc.delay})
			s.now = func() time.Time { return now }
			mustSync(t, s)

			want := fixturesByMinTime
			if tc.hidden {
				want = slices.DeleteFunc(slices.Clone(want), func(id string) bool { return id == fixtureV2 })
			}
			equalIDs(t, "AllBlocks", s.AllBlocks("anonymous"), want)
			if got := testutil.ToFloat64(s.metrics.loadFailures.WithLabelValues(reasonMarker)); got != tc.markerFailures {
				t.Errorf("marker failures = %v, want %v", got, tc.markerFailures)
			}
			if got := testutil.ToFloat64(s.metrics.corruptBlocks.WithLabelValues("anonymous")); got != 0 {
				t.Errorf("a marked block is not corrupt: cinder_bucket_corrupt_blocks = %v", got)
			}
		})
	}

	t.Run("mark expires on a later sync without rereading", func(t *testing.T) {
		bkt := newRecordingBucket(objstore.NewInMemBucket())
		uploadTree(t, bkt, filepath.Join(root, "fixtures"))
		mustUpload(t, bkt, global, deletionMarkJSON(t, fixtureV2, now))
		clock := now
		s, _ := testSyncer(t, bkt, SyncConfig{DeletionDelay: time.Hour})
		s.now = func() time.Time { return clock }

		mustSync(t, s)
		equalIDs(t, "within delay", s.AllBlocks("anonymous"), fixturesByMinTime)
		clock = now.Add(59 * time.Minute)
		mustSync(t, s)
		equalIDs(t, "still within delay", s.AllBlocks("anonymous"), fixturesByMinTime)
		clock = now.Add(time.Hour)
		mustSync(t, s)
		equalIDs(t, "after delay", s.AllBlocks("anonymous"), []string{fixtureV3Tiny, fixtureV1, fixtureV3})
		if n := bkt.getCount(global); n != 1 {
			t.Errorf("global mark read %d times, want 1", n)
		}
	})

	t.Run("mark added after loading hides the block", func(t *testing.T) {
		bkt := objstore.NewInMemBucket()
		uploadTree(t, bkt, filepath.Join(root, "fixtures"))
		s, _ := testSyncer(t, bkt, SyncConfig{})
		mustSync(t, s)
		equalIDs(t, "before", s.AllBlocks("anonymous"), fixturesByMinTime)
		mustUpload(t, bkt, global, deletionMarkJSON(t, fixtureV2, now))
		mustSync(t, s)
		equalIDs(t, "after", s.AllBlocks("anonymous"), []string{fixtureV3Tiny, fixtureV1, fixtureV3})
		if got := testutil.ToFloat64(s.metrics.blocksLoaded.WithLabelValues("anonymous")); got != 3 {
			t.Errorf("cinder_bucket_blocks_loaded = %v, want 3", got)
		}
	})
}

// corruption edits a bucket holding the fixtures so that block fixtureV3
// becomes unusable in one way.
type corruption struct {
	name   string
	edit   func(t *testing.T, bkt objstore.Bucket)
	reason string // "" when the block is skipped silently
}

func editMeta(f func(m *blockreader.Meta)) func(t *testing.T, bkt objstore.Bucket) {
	return func(t *testing.T, bkt objstore.Bucket) {
		name := "anonymous/phlaredb/" + fixtureV3 + "/meta.json"
		m, err := blockreader.ParseMeta(mustGet(t, bkt, name))
		if err != nil {
			t.Fatal(err)
		}
		f(m)
		data, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		mustUpload(t, bkt, name, data)
	}
}

func editIndex(f func([]byte) []byte) func(t *testing.T, bkt objstore.Bucket) {
	return func(t *testing.T, bkt objstore.Bucket) {
		name := "anonymous/phlaredb/" + fixtureV3 + "/index.tsdb"
		mustUpload(t, bkt, name, f(mustGet(t, bkt, name)))
	}
}

var corruptions = []corruption{
	{"garbage meta.json", func(t *testing.T, bkt objstore.Bucket) {
		mustUpload(t, bkt, "anonymous/phlaredb/"+fixtureV3+"/meta.json", []byte("\x00not json{"))
	}, reasonMeta},
	{"meta.json version 7", editMeta(func(m *blockreader.Meta) { m.Version = 7 }), reasonMeta},
	{"meta.json ulid differs from directory", editMeta(func(m *blockreader.Meta) { m.ULID = ulid.MustParse(fixtureV1) }), reasonMeta},
	{"meta.json without index.tsdb", editMeta(func(m *blockreader.Meta) {
		m.Files = slices.DeleteFunc(m.Files, func(f blockreader.File) bool { return f.RelPath == "index.tsdb" })
	}), reasonIndex},
	{"missing meta.json is an upload in progress", func(t *testing.T, bkt objstore.Bucket) {
		mustDelete(t, bkt, "anonymous/phlaredb/"+fixtureV3+"/meta.json")
	}, ""},
	{"missing index.tsdb", func(t *testing.T, bkt objstore.Bucket) {
		mustDelete(t, bkt, "anonymous/phlaredb/"+fixtureV3+"/index.tsdb")
	}, reasonIndex},
	{"truncated index.tsdb", editIndex(func(b []byte) []byte { return b[:len(b)/2] }), reasonIndex},
	{"truncated index.tsdb, size unknown", func(t *testing.T, bkt objstore.Bucket) {
		editMeta(func(m *blockreader.Meta) {
			for i := range m.Files {
				m.Files[i].SizeBytes = 0
			}
		})(t, bkt)
		editIndex(func(b []byte) []byte { return b[:len(b)-10] })(t, bkt)
	}, reasonIndex},
	{"index.tsdb longer than sizeBytes", editIndex(func(b []byte) []byte { return append(b, 0) }), reasonIndex},
	{"index.tsdb with a flipped byte", editIndex(func(b []byte) []byte { b[len(b)/2] ^= 0x01; return b }), reasonIndex},
	{"index.tsdb with a flipped byte in the symbols", editIndex(func(b []byte) []byte { b[12] ^= 0x80; return b }), reasonIndex},
	{"index.tsdb with a flipped byte in the TOC", editIndex(func(b []byte) []byte { b[len(b)-30] ^= 0x01; return b }), reasonIndex},
	{"empty index.tsdb", editIndex(func([]byte) []byte { return nil }), reasonIndex},
}

func TestSyncerSkipsBrokenBlocks(t *testing.T) {
	root := testdataRoot(t)
	good := []string{fixtureV3Tiny, fixtureV1, fixtureV2}
	for _, tc := range corruptions {
		for _, kind := range bucketKinds {
			t.Run(tc.name+"/"+string(kind), func(t *testing.T) {
				bkt := newTestBucket(t, kind)
				uploadTree(t, bkt, filepath.Join(root, "fixtures"))
				tc.edit(t, bkt)
				s, logs := testSyncer(t, bkt, SyncConfig{})

				wantCorrupt := 0.0
				if tc.reason != "" {
					wantCorrupt = 1
				}
				for sync := 1; sync <= 2; sync++ {
					mustSync(t, s)
					equalIDs(t, "AllBlocks", s.AllBlocks("anonymous"), good)
					for _, r := range []string{reasonMeta, reasonMarker, reasonIndex} {
						want := 0.0
						if r == tc.reason {
							want = float64(sync) // retried and counted on every sync
						}
						if got := testutil.ToFloat64(s.metrics.loadFailures.WithLabelValues(r)); got != want {
							t.Errorf("sync %d: cinder_bucket_block_load_failures_total{reason=%q} = %v, want %v", sync, r, got, want)
						}
					}
					if got := testutil.ToFloat64(s.metrics.corruptBlocks.WithLabelValues("anonymous")); got != wantCorrupt {
						t.Errorf("sync %d: cinder_bucket_corrupt_blocks = %v, want %v", sync, got, wantCorrupt)
					}
					if got := testutil.ToFloat64(s.metrics.blocksLoaded.WithLabelValues("anonymous")); got != 3 {
						t.Errorf("sync %d: cinder_bucket_blocks_loaded = %v, want 3", sync, got)
					}
				}
				// Logged once per distinct error, with the structured fields.
				wantWarn := int(wantCorrupt)
				if got := logs.count(slog.LevelWarn, "tenant", "anonymous", "block", fixtureV3); got != wantWarn {
					t.Errorf("%d warnings about the block, want %d", got, wantWarn)
				}
				if tc.reason != "" && logs.count(slog.LevelWarn, "file", map[string]string{reasonMeta: "meta.json", reasonIndex: "index.tsdb"}[tc.reason]) != 1 {
					t.Error("warning does not name the file")
				}
				if !s.Ready() {
					t.Error("broken blocks must not keep the syncer from becoming ready")
				}

				// Repairing the block makes the next sync load it.
				src := filepath.Join(root, "fixtures")
				copyBlock(t, bkt, src, fixtureV3, "anonymous", fixtureV3)
				mustSync(t, s)
				equalIDs(t, "after repair", s.AllBlocks("anonymous"), fixturesByMinTime)
				if got := testutil.ToFloat64(s.metrics.corruptBlocks.WithLabelValues("anonymous")); got != 0 {
					t.Errorf("after repair: cinder_bucket_corrupt_blocks = %v, want 0", got)
				}
			})
		}
	}
}

func TestSyncerLogsEachDistinctErrorOnce(t *testing.T) {
	root := testdataRoot(t)
	bkt := objstore.NewInMemBucket()
	uploadTree(t, bkt, filepath.Join(root, "fixtures"))
	meta := "anonymous/phlaredb/" + fixtureV3 + "/meta.json"
	s, logs := testSyncer(t, bkt, SyncConfig{})

	mustUpload(t, bkt, meta, []byte("garbage"))
	mustSync(t, s)
	mustSync(t, s)
	mustUpload(t, bkt, meta, []byte(`{"ulid": "`+fixtureV3+`", "version": 9, "files": [{"relPath": "index.tsdb"}]}`))
	mustSync(t, s)
	mustSync(t, s)
	if got := logs.count(slog.LevelWarn, "block", fixtureV3); got != 2 {
		t.Errorf("%d warnings for two distinct errors over four syncs, want 2", got)
	}
}

func TestSyncerResync(t *testing.T) {
	root := testdataRoot(t)
	bkt := newRecordingBucket(objstore.NewInMemBucket())
	uploadTree(t, bkt, filepath.Join(root, "fixtures"))
	s, _ := testSyncer(t, bkt, SyncConfig{})
	mustSync(t, s)
	before := s.AllBlocks("anonymous")
	equalIDs(t, "first sync", before, fixturesByMinTime)

	// A new block appears, one vanishes, and a third is being uploaded.
	copyBlock(t, bkt, filepath.Join(root, "medium"), medium1, "anonymous", medium1)
	deleteDir(t, bkt, "anonymous/phlaredb/"+fixtureV2+"/")
	copyBlock(t, bkt, filepath.Join(root, "medium"), medium2, "anonymous", medium2)
	mustDelete(t, bkt, "anonymous/phlaredb/"+medium2+"/meta.json")
	mustSync(t, s)
	after := s.AllBlocks("anonymous")
	equalIDs(t, "second sync", after, []string{fixtureV3Tiny, fixtureV1, fixtureV3, medium1})

	for _, id := range []string{fixtureV3Tiny, fixtureV1, fixtureV3} {
		for _, f := range []string{"meta.json", "index.tsdb", "deletion-mark.json"} {
			if n := bkt.getCount("anonymous/phlaredb/" + id + "/" + f); n > 1 {
				t.Errorf("unchanged block %s: %s read %d times", id, f, n)
			}
		}
	}
	// Unchanged blocks are the very same values, so callers may cache by
	// pointer.
	for _, b := range after {
		if i := slices.IndexFunc(before, func(o *Block) bool { return o.ID() == b.ID() }); i >= 0 && before[i] != b {
			t.Errorf("block %s was reloaded", b.ID())
		}
	}
	// Only meta.json, deletion-mark.json and index.tsdb are ever read.
	if n := bkt.getsUnder("anonymous/phlaredb/" + medium1 + "/"); n != 3 {
		t.Errorf("new block: %d reads, want 3 (meta, mark, index)", n)
	}

	// The upload finishes.
	copyBlock(t, bkt, filepath.Join(root, "medium"), medium2, "anonymous", medium2)
	mustSync(t, s)
	equalIDs(t, "third sync", s.AllBlocks("anonymous"), []string{fixtureV3Tiny, fixtureV1, fixtureV3, medium1, medium2})

	// Each sync lists the tenants, the blocks and the markers once, and
	// never probes objects one by one.
	for _, dir := range []string{"", "anonymous/phlaredb/", "anonymous/phlaredb/markers/"} {
		if n := bkt.iterCount(dir); n != 3 {
			t.Errorf("%q listed %d times in 3 syncs", dir, n)
		}
	}
	if bkt.exists != 0 {
		t.Errorf("%d Exists calls", bkt.exists)
	}
}

func TestSyncerKeepsViewWhenBucketFails(t *testing.T) {
	root := testdataRoot(t)
	errUnreachable := errors.New("bucket unreachable")
	for _, dir := range []string{"*", "", "anonymous/phlaredb/", "anonymous/phlaredb/markers/"} {
		t.Run("listing "+dir+" fails", func(t *testing.T) {
			bkt := newRecordingBucket(objstore.NewInMemBucket())
			uploadTree(t, bkt, filepath.Join(root, "fixtures"))
			s, _ := testSyncer(t, bkt, SyncConfig{})

			bkt.failIter(dir, errUnreachable)
			if err := s.SyncOnce(context.Background()); !errors.Is(err, errUnreachable) {
				t.Fatalf("SyncOnce = %v, want %v", err, errUnreachable)
			}
			if s.Ready() || s.Tenants() != nil || s.Blocks("anonymous", math.MinInt64, math.MaxInt64) != nil {
				t.Fatal("a failed first sync must leave the syncer unready and empty")
			}

			bkt.failIter(dir, nil)
			mustSync(t, s)
			lastOK := testutil.ToFloat64(s.metrics.lastSuccessful)
			view := s.AllBlocks("anonymous")

			deleteDir(t, bkt, "anonymous/phlaredb/"+fixtureV1+"/")
			bkt.failIter(dir, errUnreachable)
			if err := s.SyncOnce(context.Background()); !errors.Is(err, errUnreachable) {
				t.Fatalf("SyncOnce = %v, want %v", err, errUnreachable)
			}
			if got := s.AllBlocks("anonymous"); !slices.Equal(got, view) {
				t.Errorf("view changed after a failed sync: %v", blockIDs(got))
			}
			if !s.Ready() {
				t.Error("a failed sync must not make the syncer unready")
			}
			if got := testutil.ToFloat64(s.metrics.syncFailures); got != 2 {
				t.Errorf("cinder_bucket_sync_failures_total = %v, want 2", got)
			}
			if got := testutil.ToFloat64(s.metrics.lastSuccessful); got != lastOK {
				t.Error("last successful sync time moved on a failed sync")
			}
			if got := testutil.CollectAndCount(s.metrics.syncDuration); got != 1 {
				t.Errorf("cinder_bucket_sync_duration_seconds: %d series", got)
			}
		})
	}
}

func TestSyncerTenants(t *testing.T) {
	root := testdataRoot(t)
	fixtures := filepath.Join(root, "fixtures")
	bkt := objstore.NewInMemBucket()
	copyBlock(t, bkt, fixtures, fixtureV1, "anonymous", fixtureV1)
	copyBlock(t, bkt, fixtures, fixtureV2, "tenant-b", fixtureV2)
	// The same ULID in two tenants is two blocks.
	copyBlock(t, bkt, fixtures, fixtureV1, "tenant-b", fixtureV1)
	copyBlock(t, bkt, fixtures, fixtureV3, "being-deleted", fixtureV3)
	mustUpload(t, bkt, "being-deleted/phlaredb/markers/tenant-deletion-mark.json", []byte(`{"deletion_time": 1700000000}`))

	// Entries that are not tenants or not blocks, each holding a valid block
	// that must not be served.
	for _, tenant := range []string{"__pyroscope_cluster", "bucket-index.json", "bad tenant", "bad|tenant", ".."} {
		copyBlock(t, bkt, fixtures, fixtureV3Tiny, tenant, fixtureV3Tiny)
	}
	mustUpload(t, bkt, "tenants.json", []byte("{}"))
	mustUpload(t, bkt, "anonymous/phlaredb/bucket-index.json.gz", []byte("not gzip"))
	mustUpload(t, bkt, "anonymous/phlaredb/not-a-ulid/meta.json", []byte("{}"))
	copyBlock(t, bkt, fixtures, fixtureV3Tiny, "anonymous/phlaredb/nested", fixtureV3Tiny)
	copyBlock(t, bkt, fixtures, fixtureV3Tiny, "anonymous", strings.ToLower(fixtureV3Tiny))
	mustUpload(t, bkt, "anonymous/phlaredb/markers/"+fixtureV2+"-no-compact-mark.json", []byte("{}"))
	mustUpload(t, bkt, "anonymous/"+fixtureV3Tiny+"/meta.json", []byte("{}"))

	s, logs := testSyncer(t, bkt, SyncConfig{})
	mustSync(t, s)
	if got := s.Tenants(); !slices.Equal(got, []string{"anonymous", "tenant-b"}) {
		t.Fatalf("Tenants() = %v", got)
	}
	equalIDs(t, "anonymous", s.AllBlocks("anonymous"), []string{fixtureV1})
	equalIDs(t, "tenant-b", s.AllBlocks("tenant-b"), []string{fixtureV1, fixtureV2})
	for _, b := range s.Blocks("tenant-b", math.MinInt64, math.MaxInt64) {
		if b.Tenant != "tenant-b" || !strings.HasPrefix(b.Dir(), "tenant-b/phlaredb/") {
			t.Errorf("tenant-b sees block %s of %q", b.Dir(), b.Tenant)
		}
	}
	if a, b := s.AllBlocks("anonymous")[0], s.AllBlocks("tenant-b")[0]; a == b || a.Index == b.Index {
		t.Error("equal ULIDs in two tenants share one block")
	}
	for _, tenant := range []string{"being-deleted", "__pyroscope_cluster", "bad tenant", ".."} {
		if got := s.AllBlocks(tenant); got != nil {
			t.Errorf("tenant %q: got blocks %v", tenant, blockIDs(got))
		}
	}
	if n := logs.count(slog.LevelWarn) + logs.count(slog.LevelError); n != 0 {
		t.Errorf("%d warnings for entries that must be ignored silently", n)
	}

	// Marking a served tenant for deletion hides it and clears its metrics.
	mustUpload(t, bkt, "tenant-b/phlaredb/markers/tenant-deletion-mark.json", []byte(`{"deletion_time": 1700000000}`))
	mustSync(t, s)
	if got := s.Tenants(); !slices.Equal(got, []string{"anonymous"}) {
		t.Errorf("after tenant deletion mark: Tenants() = %v", got)
	}
	if got := s.AllBlocks("tenant-b"); got != nil {
		t.Errorf("deleted tenant still has blocks %v", blockIDs(got))
	}
	if got := testutil.CollectAndCount(s.metrics.blocksLoaded); got != 1 {
		t.Errorf("cinder_bucket_blocks_loaded has %d series, want 1", got)
	}
}

func TestSyncerRun(t *testing.T) {
	root := testdataRoot(t)
	bkt := objstore.NewInMemBucket()
	copyBlock(t, bkt, filepath.Join(root, "fixtures"), fixtureV1, "anonymous", fixtureV1)
	s, _ := testSyncer(t, bkt, SyncConfig{Interval: 5 * time.Millisecond})

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()

	waitCtx, waitCancel := context.WithTimeout(ctx, 10*time.Second)
	defer waitCancel()
	if err := s.WaitReady(waitCtx); err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
	equalIDs(t, "after first sync", s.AllBlocks("anonymous"), []string{fixtureV1})

	copyBlock(t, bkt, filepath.Join(root, "fixtures"), fixtureV2, "anonymous", fixtureV2)
	for len(s.AllBlocks("anonymous")) != 2 {
		select {
		case <-waitCtx.Done():
			t.Fatal("new block not picked up by the periodic sync")
		case <-time.After(time.Millisecond):
		}
	}

	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run returned %v after cancellation, want nil", err)
	}
}

func TestSyncerWaitReadyHonoursContext(t *testing.T) {
	s, _ := testSyncer(t, objstore.NewInMemBucket(), SyncConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	if err := s.WaitReady(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitReady = %v, want deadline exceeded", err)
	}
}

// TestSyncerConcurrentReaders is for the race detector: readers never
// synchronise with syncs.
func TestSyncerConcurrentReaders(t *testing.T) {
	root := testdataRoot(t)
	bkt := objstore.NewInMemBucket()
	uploadTree(t, bkt, filepath.Join(root, "fixtures"))
	s, _ := testSyncer(t, bkt, SyncConfig{Concurrency: 2})
	mustSync(t, s)

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				for _, b := range s.Blocks("anonymous", math.MinInt64, math.MaxInt64) {
					_ = b.Dir()
				}
				_ = s.Tenants()
			}
		}()
	}
	for i := range 20 {
		if i%2 == 0 {
			deleteDir(t, bkt, "anonymous/phlaredb/"+fixtureV1+"/")
		} else {
			copyBlock(t, bkt, filepath.Join(root, "fixtures"), fixtureV1, "anonymous", fixtureV1)
		}
		mustSync(t, s)
	}
	cancel()
	wg.Wait()
}

func TestSyncerCancelledSyncKeepsView(t *testing.T) {
	root := testdataRoot(t)
	bkt := objstore.NewInMemBucket()
	uploadTree(t, bkt, filepath.Join(root, "fixtures"))
	s, _ := testSyncer(t, bkt, SyncConfig{})
	mustSync(t, s)
	copyBlock(t, bkt, filepath.Join(root, "medium"), medium1, "anonymous", medium1)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.SyncOnce(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("SyncOnce with a cancelled context = %v", err)
	}
	equalIDs(t, "view", s.AllBlocks("anonymous"), fixturesByMinTime)
	if got := testutil.ToFloat64(s.metrics.loadFailures.WithLabelValues(reasonMeta)); got != 0 {
		t.Errorf("cancellation counted as %v block failures", got)
	}
}

func TestSyncConfig(t *testing.T) {
	var cfg SyncConfig
	fs := flagSet(t, &cfg)
	if cfg.Interval != time.Minute || cfg.Concurrency != DefaultSyncConcurrency || cfg.DeletionDelay != DefaultDeletionDelay {
		t.Errorf("defaults: %+v", cfg)
	}
	if err := fs.Parse([]string{
		"-blocks-storage.bucket-store.sync-interval=30s",
		"-blocks-storage.bucket-store.meta-sync-concurrency=2",
		"-blocks-storage.bucket-store.ignore-deletion-marks-delay=0",
		"-blocks-storage.bucket-store.profiles-read-ahead-bytes=65536",
	}); err != nil {
		t.Fatal(err)
	}
	if want := (SyncConfig{Interval: 30 * time.Second, Concurrency: 2, ProfilesReadAhead: 64 << 10}); cfg != want {
		t.Errorf("parsed %+v, want %+v", cfg, want)
	}
	for _, tc := range []struct {
		name string
		cfg  SyncConfig
		ok   bool
	}{
		{"zero value", SyncConfig{}, true},
		{"negative interval", SyncConfig{Interval: -1}, false},
		{"negative concurrency", SyncConfig{Concurrency: -1}, false},
		{"negative delay", SyncConfig{DeletionDelay: -1}, false},
		{"negative read-ahead", SyncConfig{ProfilesReadAhead: -1}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.cfg.Validate(); (err == nil) != tc.ok {
				t.Errorf("Validate() = %v", err)
			}
		})
	}
	if got := (SyncConfig{}).withDefaults(); got != (SyncConfig{Interval: DefaultSyncInterval, Concurrency: DefaultSyncConcurrency}) {
		t.Errorf("zero value resolves to %+v; zero delay must stay zero", got)
	}
}

func TestReadObject(t *testing.T) {
	bkt := objstore.NewInMemBucket()
	mustUpload(t, bkt, "obj", bytes.Repeat([]byte{7}, 100))
	for _, tc := range []struct {
		name string
		size uint64
		err  error
	}{
		{"unknown size", 0, nil},
		{"exact size", 100, nil},
		{"object shorter", 101, ErrSizeMismatch},
		{"object longer", 99, ErrSizeMismatch},
		{"size beyond preallocation cap", maxPreallocBytes + 1, ErrSizeMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, err := readObject(context.Background(), bkt, "obj", tc.size)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if err == nil && len(data) != 100 {
				t.Errorf("read %d bytes", len(data))
			}
		})
	}
	if _, err := readObject(context.Background(), bkt, "missing", 0); !bkt.IsObjNotFoundErr(err) {
		t.Errorf("missing object: %v is not a not-found error", err)
	}
}
