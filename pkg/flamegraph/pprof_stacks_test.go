package flamegraph

import (
	"bytes"
	"errors"
	"maps"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/cinder-profiling/cinder/pkg/symdb"
	googlev1 "github.com/cinder-profiling/cinder/proto/google/v1"
)

// TestPprofStacksHashes checks the stack hash and shard of every node, the
// leaves' kept and the inner nodes' computed from their paths, against
// hashes made for every node from the root down.
func TestPprofStacksHashes(t *testing.T) {
	hand, _ := handPartition()
	synthetic, _ := syntheticPartition(3000, 1)
	for name, p := range map[string]*symdb.Partition{"hand": hand, "synthetic": synthetic} {
		t.Run(name, func(t *testing.T) {
			ps := buildPprofStacks(p, p.Leaves())
			parents, locs := p.Tree.AppendParents(nil), p.Tree.AppendLocations(nil)
			n := len(parents)
			hash, shard, depth := make([]uint64, n), make([]uint32, n), make([]int, n)
			inner, leaves := 0, 0
			for i, par := range parents {
				if par < 0 {
					continue
				}
				depth[i] = depth[par] + 1
				hash[i] = mixStack(hash[par], ps.locHash[locs[i]])
				shard[i] = shard[par]
				if depth[i] <= shardDepth {
					shard[i] = uint32(hash[i])
				}
			}
			for i, par := range parents {
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
	// The leaf index the stacks are numbered by is the partition's too.
	if got, want := p.SizeBytes(), before+ps.SizeBytes()+p.Leaves().SizeBytes(); got != want || ps.SizeBytes() <= 0 {
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
	if grown < empty+int64(p.Tree.Len())*4 {
		t.Errorf("a builder of %d bytes grew to %d adding a partition of %d nodes", empty, grown, p.Tree.Len())
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

// TestProfileBuilderCollidingStackHashes builds a profile from partitions
// whose stack hashes are only the stacks' depths halved, so that nearly
// every lookup meets stored stacks that are not the one looked for: some
// equal from the leaf up to near the root, some one location longer. It
// checks that the profile equals the one built with real hashes.
func TestProfileBuilderCollidingStackHashes(t *testing.T) {
	pt := ProfileTypeInfo{Name: "process_cpu", SampleType: "cpu", SampleUnit: "nanoseconds", PeriodType: "cpu", PeriodUnit: "nanoseconds"}
	a, av := syntheticPartition(3000, 1)
	// Hashes are made up for leaves only: inner nodes get no values.
	parents, locs := a.Tree.AppendParents(nil), a.Tree.AppendLocations(nil)
	isParent := make([]bool, len(parents))
	for _, par := range parents {
		if par >= 0 {
			isParent[par] = true
		}
	}
	for i := range av {
		if isParent[i] {
			av[i] = 0
		}
	}
	// b is a with other locations just below the roots: its stacks equal
	// a's but for their root-most location.
	b := clonePartition(a)
	bLocs := slices.Clone(locs)
	for i, par := range parents {
		if par >= 0 && parents[par] < 0 {
			bLocs[i] = (bLocs[i] + 1) % int32(len(b.Locations))
		}
	}
	b.Tree = symdb.MustStackTree(parents, bLocs)
	// c is a without the locations just below the roots: its stacks are
	// a's less their root-most location.
	c := clonePartition(a)
	cParents := slices.Clone(parents)
	for i, par := range parents {
		if par >= 0 && parents[par] >= 0 && parents[parents[par]] < 0 {
			cParents[i] = parents[par]
		}
	}
	c.Tree = symdb.MustStackTree(cParents, locs)
	build := func(parallelism int, colliding bool) *googlev1.Profile {
		pb := NewProfileBuilder(pt, 0, 1)
		pb.SetParallelism(parallelism)
		// Partitions of their own, so that each run derives its hashes.
		parts := []*symdb.Partition{clonePartition(a), clonePartition(b), clonePartition(c)}
		if colliding {
			for _, p := range parts {
				// Built outside Derived, which holds the partition's lock.
				ps := depthStackHashes(p)
				p.Derived(pprofStacksKey{}, func() any { return ps })
			}
		}
		for _, p := range []*symdb.Partition{parts[0], parts[1], parts[2], parts[0], parts[2], parts[1]} {
			if err := pb.AddPartition(p, av); err != nil {
				t.Fatal(err)
			}
		}
		return pb.Build()
	}
	want := build(1, false)
	if len(want.Sample) < 100 {
		t.Fatalf("%d samples: too few to compare", len(want.Sample))
	}
	for _, parallelism := range []int{1, 2} {
		if got := build(parallelism, true); !proto.Equal(got, want) {
			t.Errorf("parallelism %d: colliding hashes built another profile (%d samples, want %d)",
				parallelism, len(got.Sample), len(want.Sample))
		}
	}
}

// clonePartition returns a partition with p's stacks and tables, in
// slices of its own for the stacks.
func clonePartition(p *symdb.Partition) *symdb.Partition {
	return &symdb.Partition{
		Key: p.Key, Tree: symdb.MustStackTree(p.Tree.AppendParents(nil), p.Tree.AppendLocations(nil)),
		Locations: p.Locations, Functions: p.Functions, Mappings: p.Mappings, Strings: p.Strings,
	}
}

// depthStackHashes returns the pprof stacks of p with half the depth of
// each leaf's stack as its hash: equal stacks still hash equal.
func depthStackHashes(p *symdb.Partition) *pprofStacks {
	ps := buildPprofStacks(p, p.Leaves())
	depth := make([]uint64, p.Tree.Len())
	for i, par := range p.Tree.AppendParents(nil) {
		if par >= 0 {
			depth[i] = depth[par] + 1
		}
		if leaf, ok := ps.leaf(i); ok {
			ps.leafHash[leaf] = depth[i] / 2
		}
	}
	return ps
}

// A builder reused profile after profile keeps what it learnt of the
// partitions it was given, and must still build every profile byte for
// byte as a new builder does: with the same partitions again, in another
// order, with other values, through the truncating path, and after one of

// added is a partition and the values a test adds of it.
type added struct {
	p      *symdb.Partition
	values []int64
}

// encodeAdded adds parts to b with the given parallelism and returns the
// encoded profile, checked against the built one (checkedBuild).
func encodeAdded(t *testing.T, b *ProfileBuilder, parallelism int, parts []added) []byte {
	t.Helper()
	b.SetParallelism(parallelism)
	for _, a := range parts {
		if err := b.AddPartition(a.p, a.values); err != nil {
			t.Fatal(err)
		}
	}
	return checkedEncode(t, b)
}

// checkedEncode returns the encoded profile of b, checked against the
// built one (checkedBuild).
func checkedEncode(t *testing.T, b *ProfileBuilder) []byte {
	t.Helper()
	checkedBuild(t, b)
	enc, err := b.AppendEncoded(nil)
	if err != nil {
		t.Fatal(err)
	}
	return enc
}

// the partitions it learnt from is gone.
func TestProfileBuilderReuse(t *testing.T) {
	pt := ProfileTypeInfo{Name: "process_cpu", SampleType: "cpu", SampleUnit: "nanoseconds", PeriodType: "cpu", PeriodUnit: "nanoseconds"}
	a, av := syntheticPartition(3000, 1)
	bp, bv := syntheticPartition(3000, 2)
	c, cv := syntheticPartition(3000, 3)
	// Other values on a's nodes: some gone, some new.
	av2 := slices.Clone(av)
	for i := range av2 {
		switch {
		case i%3 == 0:
			av2[i] = 0
		case av2[i] == 0 && i%5 == 0:
			av2[i] = 7
		}
	}
	type step struct {
		parts    []added
		maxNodes int64
	}
	build := func(b *ProfileBuilder, s step) []byte {
		t.Helper()
		b.SetMaxNodes(s.maxNodes)
		return encodeAdded(t, b, 3, s.parts)
	}
	reused := NewProfileBuilder(pt, 0, 1)
	check := func(name string, s step) {
		t.Helper()
		want := build(NewProfileBuilder(pt, 0, 1), s)
		reused.Reset(pt, 0, 1)
		if got := build(reused, s); !bytes.Equal(got, want) {
			t.Fatalf("%s: the reused builder's profile differs from a new builder's (%d vs %d bytes)", name, len(got), len(want))
		}
		// As the querier does before keeping a builder for later.
		reused.Reset(ProfileTypeInfo{}, 0, 0)
	}
	check("a, b", step{parts: []added{{a, av}, {bp, bv}}})
	check("c", step{parts: []added{{c, cv}}})
	check("b, a", step{parts: []added{{bp, bv}, {a, av}}})
	check("a with other values", step{parts: []added{{a, av2}}})
	check("a, b, c", step{parts: []added{{a, av}, {bp, bv}, {c, cv}}})
	check("a truncated", step{parts: []added{{a, av}}, maxNodes: 100})
	check("a, b again", step{parts: []added{{a, av}, {bp, bv}}})
	if len(reused.fast.known) != 3 {
		t.Fatalf("the builder knows %d partitions, want a, b and c", len(reused.fast.known))
	}

	// A partition whose locations the builder compares with is gone: what
	// it learnt is dropped, and the next profile is still right.
	func() {
		d, dv := syntheticPartition(3000, 4)
		check("d", step{parts: []added{{d, dv}}})
	}()
	runtime.GC()
	runtime.GC()
	check("a, b after d is gone", step{parts: []added{{a, av}, {bp, bv}}})
	if len(reused.fast.known) != 2 {
		t.Errorf("the builder knows %d partitions after d was collected, want a and b", len(reused.fast.known))
	}
	runtime.KeepAlive([]*symdb.Partition{a, bp, c})
}

// A reused builder that learnt the samples of a partition's nodes with
// CPU values meets other nodes of the same partitions in a memory profile:
// it must find and remember their samples beside the ones it knows, and
// build each profile byte for byte as a new builder does, whether the
// nodes are dealt to one shard or several.
func TestProfileBuilderLearnsSamples(t *testing.T) {
	pt := ProfileTypeInfo{Name: "process_cpu", SampleType: "cpu", SampleUnit: "nanoseconds", PeriodType: "cpu", PeriodUnit: "nanoseconds"}
	a, cpuA := syntheticPartition(3000, 1)
	bp, cpuB := syntheticPartition(3000, 2)
	// Memory values mostly on nodes without a CPU value, inner nodes
	// among them, and on some nodes with one.
	memory := func(cpu []int64, seed uint64) []int64 {
		rng := rand.New(rand.NewPCG(seed, seed+1))
		mem := make([]int64, len(cpu))
		for i := range mem {
			if rng.IntN(3) == 0 || (cpu[i] == 0 && rng.IntN(2) == 0) {
				mem[i] = 1 + rng.Int64N(1<<20)
			}
		}
		return mem
	}
	memA, memB := memory(cpuA, 3), memory(cpuB, 4)
	both := func(x, y []int64) []int64 {
		s := slices.Clone(x)
		for i := range s {
			s[i] += y[i]
		}
		return s
	}
	steps := []struct {
		name  string
		parts []added
	}{
		{"cpu of a", []added{{a, cpuA}}},
		{"memory of a", []added{{a, memA}}},
		{"cpu of a and b", []added{{a, cpuA}, {bp, cpuB}}},
		{"memory of b, a", []added{{bp, memB}, {a, memA}}},
		{"cpu and memory of a, b", []added{{a, both(cpuA, memA)}, {bp, both(cpuB, memB)}}},
	}
	for _, parallelism := range []int{1, 3} {
		reused := NewProfileBuilder(pt, 0, 1)
		for _, s := range steps {
			want := encodeAdded(t, NewProfileBuilder(pt, 0, 1), parallelism, s.parts)
			reused.Reset(pt, 0, 1)
			known := knownSampleCounts(reused)
			if got := encodeAdded(t, reused, parallelism, s.parts); !bytes.Equal(got, want) {
				t.Fatalf("parallelism %d, %s: the reused builder's profile differs from a new builder's (%d vs %d bytes)",
					parallelism, s.name, len(got), len(want))
			}
			// The memory profiles bring nodes not known before; the last
			// profile none.
			grew := !maps.Equal(knownSampleCounts(reused), known)
			if wantGrew := s.name != "cpu and memory of a, b"; grew != wantGrew {
				t.Errorf("parallelism %d, %s: samples learnt %v, want %v", parallelism, s.name, grew, wantGrew)
			}
			reused.Reset(ProfileTypeInfo{}, 0, 0)
		}
	}
}

// knownSampleCounts returns how many node samples b knows per partition.
func knownSampleCounts(b *ProfileBuilder) map[*symdb.Partition]int {
	counts := make(map[*symdb.Partition]int)
	for w, kp := range b.fast.known {
		counts[w.Value()] = len(kp.samples.samples)
	}
	return counts
}

// Values per leaf make the same profile as the same values per node, on a
// fresh and on a reused builder, with every path a builder takes.
func TestProfileBuilderLeaves(t *testing.T) {
	pt := ProfileTypeInfo{Name: "process_cpu", SampleType: "cpu", SampleUnit: "nanoseconds", PeriodType: "cpu", PeriodUnit: "nanoseconds"}
	a, av := syntheticPartition(3000, 1)
	bp, bv := syntheticPartition(3000, 2)
	// The leaves' values, and the inner nodes' dropped from the node values.
	toLeaves := func(p *symdb.Partition, values []int64) []int64 {
		leaves := p.Leaves()
		leaf := make([]int64, leaves.Count)
		for i, v := range values {
			if k, ok := leaves.Leaf(int32(i)); ok {
				leaf[k] = v
			} else {
				values[i] = 0
			}
		}
		return leaf
	}
	al, bl := toLeaves(a, av), toLeaves(bp, bv)
	configs := []struct {
		name string
		set  func(b *ProfileBuilder)
	}{
		{"plain", func(*ProfileBuilder) {}},
		{"budget", func(b *ProfileBuilder) { b.SetMaxNodes(50) }},
		{"call site", func(b *ProfileBuilder) { b.SetCallSite([]string{"f0"}) }},
	}
	for _, c := range configs {
		for _, parallelism := range []int{1, 3} {
			byNode := func(b *ProfileBuilder) []byte {
				c.set(b)
				return encodeAdded(t, b, parallelism, []added{{a, av}, {bp, bv}})
			}
			byLeaf := func(b *ProfileBuilder) []byte {
				t.Helper()
				c.set(b)
				b.SetParallelism(parallelism)
				for _, x := range []struct {
					p    *symdb.Partition
					leaf []int64
				}{{a, al}, {bp, bl}} {
					if err := b.AddPartitionLeaves(x.p, x.leaf); err != nil {
						t.Fatal(err)
					}
				}
				return checkedEncode(t, b)
			}
			want := byNode(NewProfileBuilder(pt, 0, 1))
			if got := byLeaf(NewProfileBuilder(pt, 0, 1)); !bytes.Equal(got, want) {
				t.Errorf("%s, parallelism %d: leaf values encode to %d bytes that differ from the node values' %d", c.name, parallelism, len(got), len(want))
			}
			// A builder that learnt the partitions from node values, then
			// given leaf values, and the other way round.
			reused := NewProfileBuilder(pt, 0, 1)
			byNode(reused)
			reused.Reset(pt, 0, 1)
			if got := byLeaf(reused); !bytes.Equal(got, want) {
				t.Errorf("%s, parallelism %d: leaf values on a reused builder differ", c.name, parallelism)
			}
			reused.Reset(pt, 0, 1)
			if got := byNode(reused); !bytes.Equal(got, want) {
				t.Errorf("%s, parallelism %d: node values after leaf values differ", c.name, parallelism)
			}
		}
	}
	if err := NewProfileBuilder(pt, 0, 1).AddPartitionLeaves(a, al[1:]); !errors.Is(err, ErrPartitionShape) {
		t.Errorf("one leaf value short: %v, want ErrPartitionShape", err)
	}
}
