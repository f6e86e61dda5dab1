package flamegraph

import (
	"fmt"
	"testing"

	"github.com/cinder-profiling/cinder/pkg/symdb"
)

// BenchmarkProfileBuilderBenchBucket merges the partitions of a
// bench-bucket block into a profile with a value on every leaf, as the
// querier's SelectMergeProfile does: warm with a builder reused from the
// profile before (every sample known), cold with a new builder.
func BenchmarkProfileBuilderBenchBucket(b *testing.B) {
	parts := benchBucketPartitions(b)
	values := make([][]int64, len(parts))
	for k, p := range parts {
		values[k] = leafValues(p)
	}
	pt := ProfileTypeInfo{Name: "process_cpu", SampleType: "cpu", SampleUnit: "nanoseconds", PeriodType: "cpu", PeriodUnit: "nanoseconds"}
	add := func(b *testing.B, pb *ProfileBuilder, parallelism int) {
		pb.SetParallelism(parallelism)
		for k, p := range parts {
			if err := pb.AddPartition(p, values[k]); err != nil {
				b.Fatal(err)
			}
		}
	}
	for _, parallelism := range []int{1, 2} {
		b.Run(fmt.Sprint("warm/parallelism=", parallelism), func(b *testing.B) {
			pb := NewProfileBuilder(pt, 0, 1)
			add(b, pb, parallelism)
			b.ReportAllocs()
			for b.Loop() {
				pb.Reset(pt, 0, 1)
				add(b, pb, parallelism)
			}
		})
	}
	b.Run("cold", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			add(b, NewProfileBuilder(pt, 0, 1), 2)
		}
	})
}

// leafValues returns a value for every leaf of p, none elsewhere.
func leafValues(p *symdb.Partition) []int64 {
	parents := p.Tree.AppendParents(nil)
	values := make([]int64, len(parents))
	for i, par := range parents {
		if par >= 0 {
			values[i] = 1 + int64(i%97)
		}
	}
	for _, par := range parents {
		if par >= 0 {
			values[par] = 0
		}
	}
	return values
}
