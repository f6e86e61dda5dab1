package symdb

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"

	"github.com/cinder-profiling/cinder/pkg/blockreader"
)

// noCache keeps no partition, so that every Partition call loads.
type noCache struct{}

func (noCache) Get(uint64) (*Partition, bool) { return nil, false }
func (noCache) Add(uint64, *Partition)        {}

// largestPartition returns the key of the partition with the most nodes.
func largestPartition(tb testing.TB, r *Reader) (uint64, int) {
	tb.Helper()
	var best uint64
	most := -1
	for _, ph := range r.index.partitions {
		n := 0
		for _, c := range ph.chunks {
			n += int(c.nodes)
		}
		if n > most {
			best, most = ph.key, n
		}
	}
	return best, most
}

// BenchmarkLoadPartition loads the largest partition of a block again and
// again through a long-lived Reader, as after a cache eviction: the parquet
// footers are read once, the partition's chunks and rows every time.
func BenchmarkLoadPartition(b *testing.B) {
	cases := []struct {
		name string
		open func(tb testing.TB) *Reader
	}{
		{"medium/format2", func(tb testing.TB) *Reader {
			return openTestBlock(tb, blockByULID(tb, "01M7ZKZGFHVR6271E3X0RSYZC6"), WithPartitionCache(noCache{}))
		}},
		{"partial/format2", func(tb testing.TB) *Reader {
			return openTestBlock(tb, blockByULID(tb, "01HHYG6245NWHZWVP27V8WJRT7"), WithPartitionCache(noCache{}))
		}},
		{"symdb-v3/format3", func(tb testing.TB) *Reader {
			r := openSymdbDir(tb, "v3")
			r.cache = noCache{}
			return r
		}},
		// As the server loads: scratch borrowed from Buffers.
		{"medium/format2/buffers", func(tb testing.TB) *Reader {
			return openTestBlock(tb, blockByULID(tb, "01M7ZKZGFHVR6271E3X0RSYZC6"), WithPartitionCache(noCache{}), WithBuffers(&Buffers{Max: 4}))
		}},
		{"symdb-v3/format3/buffers", func(tb testing.TB) *Reader {
			r := openSymdbDir(tb, "v3")
			r.cache, r.bufs = noCache{}, &Buffers{Max: 4}
			return r
		}},
		// A partition of the bench bucket loaded again after its cache
		// dropped it, as the server does.
		{"bench-bucket/format2/buffers", func(tb testing.TB) *Reader {
			dir, meta := benchBucketBlock(tb)
			r, err := Open(context.Background(), meta, blockreader.DirFiles(dir), WithPartitionCache(noCache{}), WithBuffers(&Buffers{Max: 4}))
			if err != nil {
				tb.Fatal(err)
			}
			return r
		}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			r := c.open(b)
			key, nodes := largestPartition(b, r)
			ctx := context.Background()
			mustPartition(b, r, key) // open the parquet files
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := r.Partition(ctx, key); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(nodes), "nodes")
		})
	}
}

// BenchmarkOpen measures Open: meta.json already parsed, index only.
func BenchmarkOpen(b *testing.B) {
	bl := blockByULID(b, "01HHYG6245NWHZWVP27V8WJRT7")
	dir := bl.path(sharedTestdata(b))
	data, err := os.ReadFile(filepath.Join(dir, blockreader.MetaFilename))
	if err != nil {
		b.Fatal(err)
	}
	meta, err := blockreader.ParseMeta(data)
	if err != nil {
		b.Fatal(err)
	}
	files := memFiles{}
	for _, f := range meta.Files {
		if filepath.Base(f.RelPath) == indexSymdbName {
			if files[f.RelPath], err = os.ReadFile(filepath.Join(dir, f.RelPath)); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Open(context.Background(), meta, files); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeTree decodes the largest stack-trace chunk of the partial
// block (167 584 nodes).
func BenchmarkDecodeTree(b *testing.B) {
	r := openTestBlock(b, blockByULID(b, "01HHYG6245NWHZWVP27V8WJRT7"))
	key, _ := largestPartition(b, r)
	ph := &r.index.partitions[r.index.byKey[key]]
	c := ph.chunks[0]
	ra, size, err := r.files.ReaderAt(context.Background(), r.layout.dataFile)
	if err != nil {
		b.Fatal(err)
	}
	data, err := readRanges(ra, size, []byteRange{{c.offset, c.size}}, nil)
	if err != nil {
		b.Fatal(err)
	}
	tb := newStackTreeBuilder(int(c.nodes))
	b.SetBytes(int64(c.size))
	b.ReportAllocs()
	for b.Loop() {
		// The builder's arrays are reused, as two slices were before.
		t := &tb.t
		*t = StackTree{jump: t.jump[:0], rank: t.rank[:0], far: t.far[:0], loc16: t.loc16[:0]}
		if err := decodeTree(tb, int(c.nodes), data[0]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(c.nodes), "nodes")
}

// BenchmarkDecodeDelta decodes 1024 int32s, one symbol block's column.
func BenchmarkDecodeDelta(b *testing.B) {
	rng := newRand(4)
	v := make([]int32, 1024)
	for i := range v {
		v[i] = int32(i*3 + rng.IntN(50))
	}
	data := deltaInt32s(v)
	dst := make([]int64, 0, len(v))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if dst, err = decodeDelta(dst, data, len(v)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendLocations resolves every stack of the largest partition of
// a medium block, leaf first, into a reused buffer.
func BenchmarkAppendLocations(b *testing.B) {
	r := openTestBlock(b, blockByULID(b, "01M7ZKZGFHVR6271E3X0RSYZC6"))
	key, nodes := largestPartition(b, r)
	p := mustPartition(b, r, key)
	ids := make([]uint64, 0, nodes)
	for id := 1; id < nodes; id++ {
		ids = append(ids, uint64(id))
	}
	buf := make([]int32, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		for _, id := range ids {
			var err error
			if buf, err = p.AppendLocations(buf[:0], id); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(len(ids)), "stacks/op")
	_ = slices.Clip(buf)
}

// benchBucketBlock returns the directory and meta.json of the first block
// of the bucket of `make bench-data` (CINDER_BENCH_BUCKET, or
// $TMPDIR/cinder-bench), or skips.
func benchBucketBlock(tb testing.TB) (string, *blockreader.Meta) {
	tb.Helper()
	bucket := os.Getenv("CINDER_BENCH_BUCKET")
	if bucket == "" {
		bucket = filepath.Join(os.TempDir(), "cinder-bench")
	}
	blocks, _ := filepath.Glob(filepath.Join(bucket, "anonymous", "phlaredb", "*", blockreader.MetaFilename))
	if len(blocks) == 0 {
		tb.Skipf("no benchmark bucket at %s: run make bench-data", bucket)
	}
	slices.Sort(blocks)
	data, err := os.ReadFile(blocks[0])
	if err != nil {
		tb.Fatal(err)
	}
	meta, err := blockreader.ParseMeta(data)
	if err != nil {
		tb.Fatal(err)
	}
	return filepath.Dir(blocks[0]), meta
}

// keepAllCache keeps every partition, as a partition cache that is large
// enough does; unlike the Reader's default it is not a *mapCache, so the
// Reader cannot tell that nothing will be loaded again.
type keepAllCache struct{ mapCache }

// BenchmarkLoadBenchBucket opens the symbols of a bench-bucket block and
// loads every partition, with a fresh Reader each time: the cold path of a
// querier's first query. It also reports, once, what the loaded partitions
// hold: SizeBytes, and the heap they, their Reader and the Buffers keep
// alive, per partition, in bytes and in objects.
//
// "server" loads as cmd/querier does: on GOMAXPROCS goroutines, into a
// cache the Reader does not own, with scratch borrowed from one Buffers.
func BenchmarkLoadBenchBucket(b *testing.B) {
	dir, meta := benchBucketBlock(b)
	files := blockreader.DirFiles(dir)
	ctx := context.Background()
	for _, server := range []bool{false, true} {
		name := "default"
		if server {
			name = "server"
		}
		b.Run(name, func(b *testing.B) {
			load := func(bufs *Buffers) (*Reader, []*Partition) {
				var opts []Option
				if server {
					opts = []Option{WithPartitionCache(&keepAllCache{}), WithBuffers(bufs)}
				}
				r, err := Open(ctx, meta, files, opts...)
				if err != nil {
					b.Fatal(err)
				}
				keys := r.PartitionKeys()
				parts := make([]*Partition, len(keys))
				workers := 1
				if server {
					workers = runtime.GOMAXPROCS(0) // as a query loads them
				}
				var wg sync.WaitGroup
				for w := range workers {
					wg.Go(func() {
						for i := w; i < len(keys); i += workers {
							p, err := r.Partition(ctx, keys[i])
							if err != nil {
								b.Error(err)
								return
							}
							parts[i] = p
						}
					})
				}
				wg.Wait()
				if b.Failed() {
					b.FailNow()
				}
				return r, parts
			}

			// Collect what earlier benchmarks left, so that the heap grows
			// by what the partitions, their Reader and its Buffers keep.
			var before, after runtime.MemStats
			runtime.GC()
			runtime.GC()
			runtime.ReadMemStats(&before)
			r, parts := load(&Buffers{Max: 2 * runtime.GOMAXPROCS(0)})
			runtime.GC()
			runtime.GC()
			runtime.ReadMemStats(&after)
			var size int64
			for _, p := range parts {
				size += p.SizeBytes()
			}
			heap := int64(after.HeapAlloc) - int64(before.HeapAlloc)
			objects := int64(after.HeapObjects) - int64(before.HeapObjects)
			runtime.KeepAlive(r)
			r, parts = nil, nil

			bufs := &Buffers{Max: 2 * runtime.GOMAXPROCS(0)} // one for all loads, as in the server
			b.ReportAllocs()
			b.ResetTimer()
			n := 0
			for b.Loop() {
				_, parts := load(bufs)
				n = len(parts)
			}
			b.ReportMetric(float64(n), "partitions")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/partition")
			b.ReportMetric(float64(size)/float64(n), "size-B/partition")
			b.ReportMetric(float64(heap)/float64(n), "heap-B/partition")
			b.ReportMetric(float64(objects)/float64(n), "heap-objs/partition")
		})
	}
}
