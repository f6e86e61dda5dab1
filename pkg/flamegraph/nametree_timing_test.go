package flamegraph

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/cinder-profiling/cinder/pkg/blockreader"
	"github.com/cinder-profiling/cinder/pkg/symdb"
)

// benchBucketPartitions loads the partitions of the first block of the
// bucket of `make bench-data` (CINDER_BENCH_BUCKET, or
// $TMPDIR/cinder-bench), or skips.
func benchBucketPartitions(b *testing.B) []*symdb.Partition {
	b.Helper()
	bucket := os.Getenv("CINDER_BENCH_BUCKET")
	if bucket == "" {
		bucket = filepath.Join(os.TempDir(), "cinder-bench")
	}
	metas, _ := filepath.Glob(filepath.Join(bucket, "anonymous", "phlaredb", "*", blockreader.MetaFilename))
	if len(metas) == 0 {
		b.Skipf("no benchmark bucket at %s: run make bench-data", bucket)
	}
	slices.Sort(metas)
	data, err := os.ReadFile(metas[0])
	if err != nil {
		b.Fatal(err)
	}
	meta, err := blockreader.ParseMeta(data)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	r, err := symdb.Open(ctx, meta, blockreader.DirFiles(filepath.Dir(metas[0])))
	if err != nil {
		b.Fatal(err)
	}
	var parts []*symdb.Partition
	for _, key := range r.PartitionKeys() {
		p, err := r.Partition(ctx, key)
		if err != nil {
			b.Fatal(err)
		}
		parts = append(parts, p)
	}
	return parts
}

// BenchmarkBuildNameTree builds the name trees of a bench-bucket block's
// partitions, as the first query over them does.
func BenchmarkBuildNameTree(b *testing.B) {
	parts := benchBucketPartitions(b)
	var scratch nameTreeScratch
	b.ReportAllocs()
	for b.Loop() {
		for _, p := range parts {
			buildNameTree(p, p.Leaves(), &scratch)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(parts))/1e6, "ms/partition")
}
