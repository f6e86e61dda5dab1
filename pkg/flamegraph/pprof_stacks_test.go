package flamegraph

import (
	"bytes"
	"testing"

	"github.com/cinder-profiling/cinder/pkg/symdb"
)

// TestPprofStacksHashes checks the stack hash and shard of every node, the
// leaves' kept and the inner nodes' computed from their paths, against
// hashes made for every node from the root down.
func TestPprofStacksHashes(t *testing.T) {
	hand, _ := handPartition()
	synthetic, _ := syntheticPartition(3000, 1)
	for name, p := range map[string]*symdb.Partition{"hand": hand, "synthetic": synthetic} {
		t.Run(name, func(t *testing.T) {
			ps := buildPprofStacks(p)
			n := len(p.Parents)
			hash, shard, depth := make([]uint64, n), make([]uint32, n), make([]int, n)
			inner, leaves := 0, 0
			for i, par := range p.Parents {
				if par < 0 {
					continue
				}
				depth[i] = depth[par] + 1
				hash[i] = mixStack(hash[par], ps.locHash[p.NodeLocations[i]])
				shard[i] = shard[par]
				if depth[i] <= shardDepth {
					shard[i] = uint32(hash[i])
				}
			}
			for i, par := range p.Parents {
				if par < 0 {
					continue
				}
				if _, ok := ps.leaf(i); ok {
					leaves++
				} else {
					inner++
				}
				if h, s := ps.stack(p, i); h != hash[i] || s != shard[i] {
					t.Errorf("node %d: hash %x shard %x, want %x %x", i, h, s, hash[i], shard[i])
				}
			}
			if inner == 0 || leaves == 0 {
				t.Errorf("%d inner nodes and %d leaves: both kinds should be checked", inner, leaves)
			}
		})
	}
}

// TestSameLocation checks that locations compare equal exactly when their
// keys are equal, across partitions with tables of their own and within
// one.
func TestSameLocation(t *testing.T) {
	p, _ := handPartition()
	// q has p's content in other tables, with differences: a build ID, a
	// renamed function, a moved mapping, an extra line.
	q := &symdb.Partition{
		Strings:   append([]string{}, p.Strings...),
		Functions: append([]symdb.Function{}, p.Functions...),
		Mappings:  append([]symdb.Mapping{}, p.Mappings...),
	}
	for _, l := range p.Locations {
		l.Lines = append([]symdb.Line{}, l.Lines...)
		q.Locations = append(q.Locations, l)
	}
	q.Strings = append(q.Strings, "bin", "renamed", "build-1")
	q.Functions = append(q.Functions, symdb.Function{Name: uint32(len(q.Strings) - 2), SystemName: 4, Filename: 6, StartLine: 4})
	q.Mappings = append(q.Mappings,
		symdb.Mapping{MemoryStart: 0x1000, MemoryLimit: 0x5000, Filename: uint32(len(q.Strings) - 3)}, // file name in another string
		symdb.Mapping{MemoryStart: 0x1000, MemoryLimit: 0x5000, Filename: 7, BuildID: uint32(len(q.Strings) - 1)},
		symdb.Mapping{MemoryStart: 0x2000, MemoryLimit: 0x6800, Filename: 7}, // same size rounded up
		symdb.Mapping{MemoryStart: 0x1000, MemoryLimit: 0x5000, Filename: 7, FileOffset: 1},
	)
	q.Locations = append(q.Locations,
		symdb.Location{Address: 0x200, Lines: []symdb.Line{{FunctionID: 5, Line: 5}, {FunctionID: 2, Line: 30}}},
		symdb.Location{Address: 0x10, MappingID: 1, Lines: []symdb.Line{{FunctionID: 0, Line: 10}}},
		symdb.Location{Address: 0x10, MappingID: 2, Lines: []symdb.Line{{FunctionID: 0, Line: 10}}},
		symdb.Location{Address: 0x10, MappingID: 3, Lines: []symdb.Line{{FunctionID: 0, Line: 10}}},
		symdb.Location{Address: 0x10, MappingID: 4, Lines: []symdb.Line{{FunctionID: 0, Line: 10}}},
		symdb.Location{Address: 0x10, MappingID: 9, Lines: []symdb.Line{{FunctionID: 0, Line: 10}}}, // no mapping
		symdb.Location{Address: 0x10, Lines: []symdb.Line{{FunctionID: 0, Line: 10}, {FunctionID: 0, Line: 10}}},
		symdb.Location{Address: 0x10, Lines: []symdb.Line{{FunctionID: 0, Line: 11}}},
	)
	parts := []*symdb.Partition{p, q}
	equal, differ := 0, 0
	for _, a := range parts {
		for _, b := range parts {
			for li := range a.Locations {
				for lj := range b.Locations {
					want := bytes.Equal(appendLocationKey(nil, a, li), appendLocationKey(nil, b, lj))
					if got := sameLocation(a, int32(li), b, int32(lj)); got != want {
						t.Errorf("locations %d and %d: same %v, keys equal %v", li, lj, got, want)
					}
					if want {
						equal++
					} else {
						differ++
					}
				}
			}
		}
	}
	// Each of p's locations equals itself and q's copy, and L1 and L5
	// differ only in the line number.
	if equal < 4*len(p.Locations) || differ == 0 {
		t.Errorf("%d equal and %d different pairs compared", equal, differ)
	}
}

// A partition counts its pprof stacks in its size, for the partition cache.
func TestPprofStacksIsSized(t *testing.T) {
	p, _ := handPartition()
	before := p.SizeBytes()
	ps := partitionPprofStacks(p)
	if got, want := p.SizeBytes(), before+ps.SizeBytes(); got != want || ps.SizeBytes() <= 0 {
		t.Errorf("partition of %d bytes with pprof stacks of %d: SizeBytes %d, want %d", before, ps.SizeBytes(), got, want)
	}
}

// A builder's size counts what a profile grew and Reset keeps, and Reset
// lets go of the partitions added.
func TestProfileBuilderSizeAndReset(t *testing.T) {
	pt := ProfileTypeInfo{Name: "process_cpu", SampleType: "cpu", SampleUnit: "nanoseconds", PeriodType: "cpu", PeriodUnit: "nanoseconds"}
	b := NewProfileBuilder(pt, 0, 1)
	empty := b.SizeBytes()
	p, values := syntheticPartition(6000, 1)
	if err := b.AddPartition(p, values); err != nil {
		t.Fatal(err)
	}
	grown := b.SizeBytes()
	if grown < empty+int64(len(p.Parents))*4 {
		t.Errorf("a builder of %d bytes grew to %d adding a partition of %d nodes", empty, grown, len(p.Parents))
	}
	b.Reset(pt, 0, 1)
	if got := b.SizeBytes(); got != grown {
		t.Errorf("size %d after Reset, want the %d bytes it keeps", got, grown)
	}
	for g, src := range b.fast.locSrc[:cap(b.fast.locSrc)] {
		if src.p != nil {
			t.Fatalf("builder location %d still refers to a partition after Reset", g)
		}
	}
}
