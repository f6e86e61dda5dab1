package flamegraph

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/cinder-profiling/cinder/pkg/symdb"
)

// syntheticPartition builds a partition of n stack-trace nodes over a
// realistic symbol table: 20k functions, 50k locations of 1–3 lines (some
// inlined), 10 mappings, 4 chunks, and values on about half of the nodes.
// Parents are drawn from the preceding 64 nodes, climbing back towards the
// root once a stack is 48 locations deep, so stacks are 10–48 locations
// deep with wide fan-out, much like real CPU profiles.
func syntheticPartition(n int, seed uint64) (*symdb.Partition, []int64) {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	p := &symdb.Partition{Key: seed, Strings: []string{""}}
	const functions, locations, mappings = 20000, 50000, 10
	for i := range functions {
		p.Strings = append(p.Strings, fmt.Sprintf("github.com/example/pkg%d.(*Type%d).Method%d", i%300, i%41, i))
		name := uint32(len(p.Strings) - 1)
		p.Functions = append(p.Functions, symdb.Function{Name: name, SystemName: name, Filename: 0, StartLine: int64(i)})
	}
	for i := range mappings {
		p.Strings = append(p.Strings, fmt.Sprintf("/usr/lib/lib%d.so", i))
		p.Mappings = append(p.Mappings, symdb.Mapping{MemoryStart: uint64(i) << 32, MemoryLimit: uint64(i)<<32 + 1<<20, Filename: uint32(len(p.Strings) - 1)})
	}
	for i := range locations {
		loc := symdb.Location{MappingID: uint32(i % mappings), Address: uint64(i) * 16}
		for range 1 + rng.IntN(3)*rng.IntN(2) {
			loc.Lines = append(loc.Lines, symdb.Line{FunctionID: uint32(rng.IntN(functions)), Line: int64(rng.IntN(1000))})
		}
		p.Locations = append(p.Locations, loc)
	}
	values := make([]int64, n)
	depth := make([]int32, n)
	parents, locs := make([]int32, n), make([]int32, n)
	chunk := n / 4
	for i := range n {
		if i%chunk == 0 {
			parents[i] = -1
			continue
		}
		lo := max(i-64, i-i%chunk)
		par := int32(lo + rng.IntN(i-lo))
		if depth[par] >= 48 {
			for up := 38 + rng.IntN(10); up > 0 && parents[par] >= 0; up-- {
				par = parents[par]
			}
		}
		parents[i] = par
		depth[i] = depth[par] + 1
		locs[i] = int32(rng.IntN(locations))
		if rng.IntN(2) == 0 {
			values[i] = 1 + int64(rng.IntN(1000))
		}
	}
	p.Tree = symdb.MustStackTree(parents, locs)
	return p, values
}

func BenchmarkTreeAddPartition(b *testing.B) {
	p, values := syntheticPartition(400_000, 1)
	b.Run("fresh", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			tr := NewTree()
			if err := tr.AddPartition(p, values); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(p.Tree.Len()), "partition-nodes")
	})
	b.Run("existing", func(b *testing.B) {
		tr := NewTree()
		if err := tr.AddPartition(p, values); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if err := tr.AddPartition(p, values); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(tr.Len()), "tree-nodes")
	})
}

// benchTree returns a tree of about 200k nodes.
func benchTree(b *testing.B) *Tree {
	b.Helper()
	p, values := syntheticPartition(220_000, 2)
	tr := NewTree()
	if err := tr.AddPartition(p, values); err != nil {
		b.Fatal(err)
	}
	return tr
}

func BenchmarkFlameGraph(b *testing.B) {
	tr := benchTree(b)
	for _, maxNodes := range []int64{8192, 0} {
		b.Run(fmt.Sprint("maxNodes=", maxNodes), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				tr.FlameGraph(maxNodes)
			}
			b.ReportMetric(float64(tr.Len()), "tree-nodes")
		})
	}
}

func BenchmarkMarshalTree(b *testing.B) {
	tr := benchTree(b)
	b.ReportAllocs()
	for b.Loop() {
		tr.MarshalTree(8192)
	}
}

func BenchmarkUnmarshalTree(b *testing.B) {
	buf := benchTree(b).MarshalTree(0)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := UnmarshalTree(buf); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNewDiff(b *testing.B) {
	left := benchTree(b)
	p, values := syntheticPartition(220_000, 3)
	right := NewTree()
	if err := right.AddPartition(p, values); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		NewDiff(left, right, 8192)
	}
}

func BenchmarkProfileBuilder(b *testing.B) {
	p, values := syntheticPartition(400_000, 1)
	pt := ProfileTypeInfo{Name: "process_cpu", SampleType: "cpu", SampleUnit: "nanoseconds", PeriodType: "cpu", PeriodUnit: "nanoseconds"}
	for _, maxNodes := range []int64{0, 8192} {
		b.Run(fmt.Sprint("maxNodes=", maxNodes), func(b *testing.B) {
			b.ReportAllocs()
			var samples int
			for b.Loop() {
				pb := NewProfileBuilder(pt, 0, 1)
				pb.SetMaxNodes(maxNodes)
				if err := pb.AddPartition(p, values); err != nil {
					b.Fatal(err)
				}
				samples = len(pb.Build().Sample)
			}
			b.ReportMetric(float64(samples), "samples")
		})
	}
	b.Run("AddPartition/existing", func(b *testing.B) {
		pb := NewProfileBuilder(pt, 0, 1)
		if err := pb.AddPartition(p, values); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if err := pb.AddPartition(p, values); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkTreeAddPartitionTruncated(b *testing.B) {
	p, values := syntheticPartition(400_000, 1)
	// 8192 truncates the partition's tree; 1<<20 keeps it whole after
	// building it on its own.
	for _, maxNodes := range []int64{8192, 1 << 20} {
		b.Run(fmt.Sprint("maxNodes=", maxNodes), func(b *testing.B) {
			tr := NewTree()
			b.ReportAllocs()
			for b.Loop() {
				tr.Reset()
				if err := tr.AddPartitionTruncated(p, values, maxNodes); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(tr.Len()), "tree-nodes")
		})
	}
}

func BenchmarkTruncate(b *testing.B) {
	tr := benchTree(b)
	b.Run("direct", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			tr.Truncate(8192)
		}
	})
	b.Run("roundtrip", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := UnmarshalTree(tr.MarshalTree(8192)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
