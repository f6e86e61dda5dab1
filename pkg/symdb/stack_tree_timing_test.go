package symdb

import (
	"context"
	"testing"

	"github.com/cinder-profiling/cinder/pkg/blockreader"
)

// BenchmarkStackTree walks the tree of the largest partition of a
// bench-bucket block the ways its users do, through the StackTree and,
// for comparison, through the two []int32 it replaced: up from every
// leaf to its root (pprof stacks), and over every node in order (name
// trees, call sites).
func BenchmarkStackTree(b *testing.B) {
	dir, meta := benchBucketBlock(b)
	r, err := Open(context.Background(), meta, blockreader.DirFiles(dir))
	if err != nil {
		b.Fatal(err)
	}
	key, _ := largestPartition(b, r)
	p := mustPartition(b, r, key)
	t := &p.Tree
	parents, locs := t.AppendParents(nil), t.AppendLocations(nil)
	leaves := NewLeafIndex(t)
	var sink int64
	walk := func(b *testing.B, up func(leaf int32) int64) {
		b.ReportAllocs()
		for b.Loop() {
			for _, leaf := range leaves.All() {
				sink += up(leaf)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(leaves.Count), "ns/stack")
	}
	b.Run("up/slices", func(b *testing.B) {
		walk(b, func(n int32) (sum int64) {
			for ; parents[n] >= 0; n = parents[n] {
				sum += int64(locs[n])
			}
			return sum
		})
	})
	b.Run("up/tree", func(b *testing.B) {
		walk(b, func(n int32) (sum int64) {
			for par := t.Parent(n); par >= 0; par = t.Parent(n) {
				sum += int64(t.Location(n))
				n = par
			}
			return sum
		})
	})
	b.Run("order/slices", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for i, par := range parents {
				if par >= 0 {
					sink += int64(locs[i])
				}
			}
		}
	})
	b.Run("order/tree", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for i := range int32(t.Len()) {
				if t.Parent(i) >= 0 {
					sink += int64(t.Location(i))
				}
			}
		}
	})
	b.Run("order/AppendParents", func(b *testing.B) {
		b.ReportAllocs()
		var buf []int32
		for b.Loop() {
			buf = t.AppendParents(buf[:0])
			for i, par := range buf {
				if par >= 0 {
					sink += int64(t.Location(int32(i)))
				}
			}
		}
	})
	b.Run("NewLeafIndex", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sink += int64(NewLeafIndex(t).Count)
		}
	})
	_ = sink
}
