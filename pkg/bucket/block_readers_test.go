package bucket

import (
	"context"
	"io"
	"log/slog"
	"math"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/oklog/ulid/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/thanos-io/objstore"

	"github.com/cinder-profiling/cinder/pkg/blockreader"
	"github.com/cinder-profiling/cinder/pkg/cache"
	"github.com/cinder-profiling/cinder/pkg/symdb"
)

// TestWithSymbolBuffers checks that every block's symbol reader is given
// the Syncer's one Buffers, and loads its partitions through it.
func TestWithSymbolBuffers(t *testing.T) {
	bkt := objstore.NewInMemBucket()
	uploadTree(t, bkt, filepath.Join(testdataRoot(t), "fixtures"))
	bufs := &symdb.Buffers{Max: 2}
	s := NewSyncer(bkt, SyncConfig{}, slog.New(newLogRecorder()), prometheus.NewPedanticRegistry(), WithSymbolBuffers(bufs))
	mustSync(t, s)
	ctx := context.Background()
	blocks := s.AllBlocks("anonymous")
	if len(blocks) == 0 {
		t.Fatal("no blocks")
	}
	for _, b := range blocks {
		if b.symbolBuffers != bufs {
			t.Fatalf("block %s: not given the Syncer's Buffers", b.ID())
		}
		r, err := b.Symbols(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, key := range r.PartitionKeys() {
			if _, err := r.Partition(ctx, key); err != nil {
				t.Fatalf("block %s: partition %d: %v", b.ID(), key, err)
			}
		}
	}
}

// largestRangeBucket records the longest ranged read of a profiles table.
type largestRangeBucket struct {
	objstore.Bucket
	mu      sync.Mutex
	largest int64
}

func (b *largestRangeBucket) GetRange(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	if strings.HasSuffix(name, "/profiles.parquet") {
		b.mu.Lock()
		b.largest = max(b.largest, length)
		b.mu.Unlock()
	}
	return b.Bucket.GetRange(ctx, name, off, length)
}

func (b *largestRangeBucket) take() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := b.largest
	b.largest = 0
	return n
}

// SyncConfig.ProfilesReadAhead reaches the blocks' profiles readers: a scan of
// every row with a short read-ahead reads the same rows in shorter
// requests.
func TestProfilesReadAhead(t *testing.T) {
	ctx := context.Background()
	type scan struct {
		rows, samples int
		largest       int64
	}
	scans := map[int64][]scan{}
	for _, readAhead := range []int64{0, 4 << 10} {
		bkt := &largestRangeBucket{Bucket: objstore.NewInMemBucket()}
		uploadTree(t, bkt, filepath.Join(testdataRoot(t), "medium"))
		s := NewSyncer(bkt, SyncConfig{ProfilesReadAhead: readAhead}, slog.New(newLogRecorder()), prometheus.NewPedanticRegistry())
		mustSync(t, s)
		for _, b := range s.AllBlocks("anonymous") {
			p, err := b.Profiles(ctx)
			if err != nil {
				t.Fatal(err)
			}
			bkt.take() // the footer's read
			sel := blockreader.ProfileSelection{StartNanos: math.MinInt64, EndNanos: math.MaxInt64}
			for i := range uint32(b.Meta.Stats.NumSeries) {
				sel.SeriesIndexes = append(sel.SeriesIndexes, i)
			}
			var sc scan
			if err := p.Scan(ctx, sel, blockreader.ColumnSamples, func(r *blockreader.ProfileRow) error {
				sc.rows++
				sc.samples += len(r.StacktraceIDs)
				return nil
			}); err != nil {
				t.Fatalf("block %s: %v", b.ID(), err)
			}
			sc.largest = bkt.take()
			scans[readAhead] = append(scans[readAhead], sc)
		}
	}
	def, short := scans[0], scans[4<<10]
	if len(def) == 0 || len(def) != len(short) {
		t.Fatalf("%d blocks scanned with the default read-ahead, %d with 4 KiB", len(def), len(short))
	}
	shorter := false
	for i := range def {
		if def[i].rows != short[i].rows || def[i].samples != short[i].samples {
			t.Errorf("block %d: %d rows, %d samples with the default read-ahead; %d, %d with 4 KiB", i, def[i].rows, def[i].samples, short[i].rows, short[i].samples)
		}
		if short[i].largest > def[i].largest {
			t.Errorf("block %d: longest read %d bytes with 4 KiB of read-ahead, %d by default", i, short[i].largest, def[i].largest)
		}
		shorter = shorter || short[i].largest < def[i].largest
	}
	if !shorter {
		t.Errorf("no block was read in shorter requests with 4 KiB of read-ahead: %+v vs %+v", short, def)
	}
}

// ServingOptions reads a filesystem bucket in place with its read-ahead
// and another through the byte cache, and leaves symbol bytes out of an
// in-process byte cache only when partitions are kept decoded.
func TestServingOptions(t *testing.T) {
	byteCache := cache.NewMemory("test", 1<<20)
	partitions := cache.NewObjectLRU[cache.ScopedKey[ulid.ULID, uint64]](1<<20, (*symdb.Partition).SizeBytes)
	apply := func(opts []SyncerOption) *Syncer {
		s := &Syncer{}
		for _, o := range opts {
			o(s)
		}
		return s
	}

	fs := Config{Backend: BackendFilesystem, Prefix: "p"}
	fs.Filesystem.Directory = "/data"
	var sync SyncConfig
	s := apply(ServingOptions(fs, &sync, byteCache, partitions, true))
	if s.localDir != filepath.Join("/data", "p") || s.byteCache != nil || sync.ProfilesReadAhead != FilesystemReadAhead {
		t.Errorf("filesystem: local %q, byte cache %v, read-ahead %d", s.localDir, s.byteCache, sync.ProfilesReadAhead)
	}
	if !s.symbolsUncached || s.partitions == nil || s.symbolBuffers == nil || s.symbolBuffers.MaxBytes != symdb.DefaultBufferBytes {
		t.Errorf("filesystem: symbols uncached %v, partitions %v, buffers %+v", s.symbolsUncached, s.partitions, s.symbolBuffers)
	}
	sync = SyncConfig{ProfilesReadAhead: 4096}
	apply(ServingOptions(fs, &sync, byteCache, nil, true))
	if sync.ProfilesReadAhead != 4096 {
		t.Errorf("a read-ahead set was replaced by %d", sync.ProfilesReadAhead)
	}

	sync = SyncConfig{}
	s = apply(ServingOptions(Config{Backend: "s3"}, &sync, byteCache, nil, true))
	if s.localDir != "" || s.byteCache == nil || sync.ProfilesReadAhead != 0 || s.symbolsUncached || s.partitions != nil {
		t.Errorf("s3 without partitions: local %q, byte cache %v, read-ahead %d, symbols uncached %v, partitions %v",
			s.localDir, s.byteCache, sync.ProfilesReadAhead, s.symbolsUncached, s.partitions)
	}
	if s = apply(ServingOptions(Config{Backend: "s3"}, &sync, byteCache, partitions, false)); s.symbolsUncached {
		t.Error("symbol bytes left out of a shared byte cache")
	}
}
