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
	return benchBucketBlocks(b, 1)[0]
}

// benchBucketBlocks loads the partitions of the first n blocks of the
// bench bucket, in the order of their IDs (of their hours), or skips.
func benchBucketBlocks(tb testing.TB, n int) [][]*symdb.Partition {
	tb.Helper()
	bucket := os.Getenv("CINDER_BENCH_BUCKET")
	if bucket == "" {
		bucket = filepath.Join(os.TempDir(), "cinder-bench")
	}
	metas, _ := filepath.Glob(filepath.Join(bucket, "anonymous", "phlaredb", "*", blockreader.MetaFilename))
	if len(metas) < n {
		tb.Skipf("no benchmark bucket of %d blocks at %s: run make bench-data", n, bucket)
	}
	slices.Sort(metas)
	ctx := context.Background()
	blocks := make([][]*symdb.Partition, n)
	for i, path := range metas[:n] {
		data, err := os.ReadFile(path)
		if err != nil {
			tb.Fatal(err)
		}
		meta, err := blockreader.ParseMeta(data)
		if err != nil {
			tb.Fatal(err)
		}
		r, err := symdb.Open(ctx, meta, blockreader.DirFiles(filepath.Dir(path)))
		if err != nil {
			tb.Fatal(err)
		}
		for _, key := range r.PartitionKeys() {
			p, err := r.Partition(ctx, key)
			if err != nil {
				tb.Fatal(err)
			}
			blocks[i] = append(blocks[i], p)
		}
	}
	return blocks
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

// BenchmarkAddSharedNameTree adds the partitions of the bench bucket's
// second block to shared name trees that hold those of the first, as the
// first query over the second block does once the first was queried. Per
// partition, it compares with BenchmarkBuildNameTree, which builds trees
// of their own.
func BenchmarkAddSharedNameTree(b *testing.B) {
	blocks := benchBucketBlocks(b, 2)
	var scratch nameTreeScratch
	// The trees with the first block only: their states never change, so
	// each round starts from them again.
	firsts := map[uint64]*nameTree{}
	for _, p := range blocks[0] {
		nt := newNameTree(true)
		nt.add(p, p.Leaves(), &scratch)
		firsts[p.Key] = nt
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, p := range blocks[1] {
			first := firsts[p.Key]
			nt := &nameTree{copyNames: true, minOwn: first.minOwn}
			nt.nodes.Store(first.nodes.Load())
			if nt.add(p, p.Leaves(), &scratch) == nil {
				b.Fatalf("partition %d did not fit the first block's tree", p.Key)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(blocks[1]))/1e6, "ms/partition")
}

// BenchmarkAddLeavesNames adds the bench bucket's second block, its values
// per leaf and cut as a store cuts them, to a tree: with the partitions'
// name trees their own, and shared with the first block's, where a
// partition's leaves are numbered as the first block walked them.
func BenchmarkAddLeavesNames(b *testing.B) {
	for _, shared := range []bool{false, true} {
		b.Run(map[bool]string{false: "own", true: "shared"}[shared], func(b *testing.B) {
			blocks := benchBucketBlocks(b, 2)
			tr := NewTree()
			if shared {
				tr.ShareNames(NewNameTrees())
			}
			leaves := make([][]int64, len(blocks[1]))
			for i, p := range blocks[1] {
				leaves[i] = make([]int64, p.Leaves().Count)
				for k := range leaves[i] {
					leaves[i][k] = 1 + int64(k%7)
				}
			}
			add := func(p *symdb.Partition, leaf []int64) {
				if err := tr.AddLeavesTruncated(p, leaf, nil, DefaultMaxNodes); err != nil {
					b.Fatal(err)
				}
			}
			for _, p := range blocks[0] {
				add(p, make([]int64, p.Leaves().Count))
			}
			for i, p := range blocks[1] {
				add(p, leaves[i])
			}
			b.ReportAllocs()
			for b.Loop() {
				tr.Reset()
				for i, p := range blocks[1] {
					add(p, leaves[i])
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(blocks[1]))/1e6, "ms/partition")
		})
	}
}

// BenchmarkNameSegments divides the name trees of a bench-bucket block's
// partitions into segments, as a tree's first state is.
func BenchmarkNameSegments(b *testing.B) {
	parts := benchBucketPartitions(b)
	var scratch nameTreeScratch
	var parents [][]int32
	for _, p := range parts {
		parents = append(parents, buildNameTree(p, p.Leaves(), &scratch).tree.nodes.Load().parent)
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, parent := range parents {
			newNameSegments(parent)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(parts))/1e6, "ms/partition")
}
