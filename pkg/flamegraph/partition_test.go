package flamegraph

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"google.golang.org/protobuf/proto"

	"github.com/cinder-profiling/cinder/pkg/symdb"
	googlev1 "github.com/cinder-profiling/cinder/proto/google/v1"
)

// handPartition is a partition built by hand to exercise the corners of
// the stack-trace tree: an inlined location, line-less locations, two
// chunks (two roots), recursion, a location of a function seen under
// another location, a value on a chunk root, zero and negative values.
//
// Strings: 0 "", 1 main, 2 a, 3 b, 4 inl, 5 x, 6 file.go, 7 bin.
// Locations: L0 main:10, L1 a:20, L2 [inl:5 inlined into b:30], L3 no
// lines, L4 x:40, L5 a:21 (same address as L1).
func handPartition() (*symdb.Partition, []int64) {
	p := &symdb.Partition{
		Key:     7,
		Strings: []string{"", "main", "a", "b", "inl", "x", "file.go", "bin"},
		Functions: []symdb.Function{
			{Name: 1, SystemName: 1, Filename: 6, StartLine: 1},
			{Name: 2, SystemName: 2, Filename: 6, StartLine: 2},
			{Name: 3, SystemName: 3, Filename: 6, StartLine: 3},
			{Name: 4, SystemName: 4, Filename: 6, StartLine: 4},
			{Name: 5, SystemName: 5, Filename: 6, StartLine: 5},
		},
		Mappings: []symdb.Mapping{{MemoryStart: 0x1000, MemoryLimit: 0x5000, Filename: 7, HasFunctions: true}},
		Locations: []symdb.Location{
			{Address: 0x10, Lines: []symdb.Line{{FunctionID: 0, Line: 10}}},
			{Address: 0x100, Lines: []symdb.Line{{FunctionID: 1, Line: 20}}},
			{Address: 0x200, Lines: []symdb.Line{{FunctionID: 3, Line: 5}, {FunctionID: 2, Line: 30}}},
			{Address: 0x300},
			{Address: 0x400, Lines: []symdb.Line{{FunctionID: 4, Line: 40}}},
			{Address: 0x100, Lines: []symdb.Line{{FunctionID: 1, Line: 21}}},
		},
	}
	type node struct {
		parent int32
		loc    int32
		value  int64
	}
	nodes := []node{
		{-1, 0, 0}, // 0: root of chunk 0
		{0, 0, 0},  // 1: main
		{1, 1, 5},  // 2: main;a
		{2, 2, 7},  // 3: main;a;b;inl
		{1, 3, 2},  // 4: main;<no lines>
		{4, 4, 3},  // 5: main;<no lines>;x
		{2, 1, 4},  // 6: main;a;a
		{6, 4, 0},  // 7: main;a;a;x, no value
		{1, 5, 6},  // 8: main;a (another location)
		{-1, 0, 9}, // 9: root of chunk 1, a value on the empty stack
		{9, 0, 1},  // 10: main
		{10, 3, 0}, // 11: main;<no lines>
		{11, 3, 8}, // 12: main;<no lines>;<no lines>
		{9, 4, -5}, // 13: x, negative
	}
	values := make([]int64, len(nodes))
	var parents, locs []int32
	for i, n := range nodes {
		parents = append(parents, n.parent)
		locs = append(locs, n.loc)
		values[i] = n.value
	}
	p.Tree = symdb.MustStackTree(parents, locs)
	return p, values
}

func TestTreeAddPartition(t *testing.T) {
	p, values := handPartition()
	tr := NewTree()
	if err := tr.AddPartition(p, values); err != nil {
		t.Fatal(err)
	}
	want := treeOf(
		stackValue{"main;a", 11},
		stackValue{"main;a;b;inl", 7},
		stackValue{"main", 11},
		stackValue{"main;x", 3},
		stackValue{"main;a;a", 4},
	)
	if g, w := treeDump(tr), treeDump(want); !slices.Equal(g, w) {
		t.Fatalf("tree = %v, want %v", g, w)
	}
	if tr.Len() != want.Len() {
		t.Errorf("tree has %d nodes, want %d (nodes without values below them must not be created)", tr.Len(), want.Len())
	}

	// A second partition (and the same one again) merges by name.
	if err := tr.AddPartition(p, values); err != nil {
		t.Fatal(err)
	}
	want.Merge(want)
	if g, w := treeDump(tr), treeDump(want); !slices.Equal(g, w) {
		t.Fatalf("after the second partition: %v, want %v", g, w)
	}

	if err := tr.AddPartition(p, values[:3]); err == nil {
		t.Error("short values accepted")
	}
}

func TestProfileBuilderAddPartition(t *testing.T) {
	pt := ProfileTypeInfo{Name: "process_cpu", SampleType: "cpu", SampleUnit: "nanoseconds", PeriodType: "cpu", PeriodUnit: "nanoseconds"}
	p, values := handPartition()
	b := NewProfileBuilder(pt, 1000, 5000)
	if err := b.AddPartition(p, values); err != nil {
		t.Fatal(err)
	}
	prof := checkedBuild(t, b)
	checkProfileIDs(t, prof)
	c := CanonicalView(prof)
	if c.NumSamplesRaw != 8 {
		t.Errorf("%d raw samples, want 8 distinct location stacks", c.NumSamplesRaw)
	}
	wantSamples := []string{"a;a;main=4", "a;main=11", "inl;b;a;main=7", "main=11", "x;main=3"}
	if got := canonicalSamples(c); !slices.Equal(got, wantSamples) {
		t.Errorf("samples = %v, want %v", got, wantSamples)
	}
	if c.Period != 1_000_000_000 || c.TimeNanos != 5000*1_000_000 || c.DurationNanos != 4000*1_000_000 {
		t.Errorf("period %d time %d duration %d", c.Period, c.TimeNanos, c.DurationNanos)
	}
	if fmt.Sprint(c.SampleTypes, c.PeriodType, c.Totals) != "[[cpu nanoseconds]] [cpu nanoseconds] [36]" {
		t.Errorf("types and totals: %v %v %v", c.SampleTypes, c.PeriodType, c.Totals)
	}
	if prof.StringTable[prof.DefaultSampleType] != "cpu" {
		t.Errorf("default sample type %q", prof.StringTable[prof.DefaultSampleType])
	}
	if len(prof.Location) != 6 || len(prof.Function) != 5 || len(prof.Mapping) != 1 {
		t.Errorf("%d locations, %d functions, %d mappings, want 6, 5, 1", len(prof.Location), len(prof.Function), len(prof.Mapping))
	}

	// The same partition again: values double, nothing new.
	if err := b.AddPartition(p, values); err != nil {
		t.Fatal(err)
	}
	prof = checkedBuild(t, b)
	checkProfileIDs(t, prof)
	if len(prof.Sample) != 8 || len(prof.Location) != 6 || len(prof.Function) != 5 || len(prof.Mapping) != 1 {
		t.Errorf("after adding twice: %d samples, %d locations, %d functions, %d mappings",
			len(prof.Sample), len(prof.Location), len(prof.Function), len(prof.Mapping))
	}
	if got := CanonicalView(prof).Totals[0]; got != 72 {
		t.Errorf("total after adding twice = %d, want 72", got)
	}
}

// TestProfileBuilderParallelism adds partitions that share stacks with 1
// to 3 goroutines and checks that the profiles are equal, and equal sample
// for sample to the one the stack trie builds (a budget larger than any
// partition truncates nothing).
func TestProfileBuilderParallelism(t *testing.T) {
	pt := ProfileTypeInfo{Name: "process_cpu", SampleType: "cpu", SampleUnit: "nanoseconds", PeriodType: "cpu", PeriodUnit: "nanoseconds"}
	a, av := syntheticPartition(6000, 1)
	b, bv := syntheticPartition(6000, 2)
	// A copy of a is another partition with the same stacks.
	aCopy := &symdb.Partition{
		Key: 3, Tree: symdb.MustStackTree(a.Tree.AppendParents(nil), a.Tree.AppendLocations(nil)),
		Locations: a.Locations, Functions: a.Functions, Mappings: a.Mappings, Strings: a.Strings,
	}
	adds := []struct {
		p      *symdb.Partition
		values []int64
	}{{a, av}, {b, bv}, {aCopy, bv}, {a, av}}
	build := func(parallelism int, maxNodes int64) *googlev1.Profile {
		pb := NewProfileBuilder(pt, 0, 1)
		pb.SetParallelism(parallelism)
		pb.SetMaxNodes(maxNodes)
		for _, add := range adds {
			if err := pb.AddPartition(add.p, add.values); err != nil {
				t.Fatal(err)
			}
		}
		return checkedBuild(t, pb)
	}
	want, wantTrie := build(1, 0), build(1, 1<<30)
	checkProfileIDs(t, want)
	for _, parallelism := range []int{2, 3} {
		if got := build(parallelism, 0); !proto.Equal(got, want) {
			t.Errorf("parallelism %d built another profile", parallelism)
		}
		if got := build(parallelism, 1<<30); !proto.Equal(got, wantTrie) {
			t.Errorf("parallelism %d built another profile through the stack trie", parallelism)
		}
	}
	got, trie := sampleContents(want), sampleContents(wantTrie)
	if !slices.Equal(got, trie) {
		t.Errorf("%d samples, the stack trie made %d; they differ", len(got), len(trie))
	}
}

// TestProfileBuilderMixedPaths adds a partition without a budget, then
// again with one (which truncates nothing), and checks that each location
// is in the profile once, whichever path interned it first.
func TestProfileBuilderMixedPaths(t *testing.T) {
	pt := ProfileTypeInfo{Name: "process_cpu", SampleType: "cpu", SampleUnit: "nanoseconds", PeriodType: "cpu", PeriodUnit: "nanoseconds"}
	p, values := syntheticPartition(3000, 1)
	once := NewProfileBuilder(pt, 0, 1)
	if err := once.AddPartition(p, values); err != nil {
		t.Fatal(err)
	}
	want := len(checkedBuild(t, once).Location)
	for _, budgets := range [][2]int64{{0, 1 << 30}, {1 << 30, 0}} {
		b := NewProfileBuilder(pt, 0, 1)
		for _, maxNodes := range budgets {
			b.SetMaxNodes(maxNodes)
			if err := b.AddPartition(p, values); err != nil {
				t.Fatal(err)
			}
		}
		prof := checkedBuild(t, b)
		checkProfileIDs(t, prof)
		if len(prof.Location) != want {
			t.Errorf("budgets %v: %d locations, want %d", budgets, len(prof.Location), want)
		}
	}
}

// TestProfileBuilderReset builds a profile with a builder that built
// others before, with other settings, and checks it equals the one a new
// builder makes.
func TestProfileBuilderReset(t *testing.T) {
	pt := ProfileTypeInfo{Name: "process_cpu", SampleType: "cpu", SampleUnit: "nanoseconds", PeriodType: "cpu", PeriodUnit: "nanoseconds"}
	a, av := syntheticPartition(3000, 1)
	b, bv := syntheticPartition(3000, 2)
	hand, hv := handPartition()
	fresh := NewProfileBuilder(pt, 10, 20)
	for _, add := range []struct {
		p      *symdb.Partition
		values []int64
	}{{hand, hv}, {a, av}} {
		if err := fresh.AddPartition(add.p, add.values); err != nil {
			t.Fatal(err)
		}
	}
	want := checkedBuild(t, fresh)

	reused := NewProfileBuilder(ProfileTypeInfo{Name: "memory"}, 0, 1)
	for _, settings := range []func(){
		func() { reused.SetParallelism(3) },
		func() { reused.SetMaxNodes(5) },
		func() { reused.SetGoPGO(&GoPGO{KeepLocations: 2}) },
		func() { reused.SetCallSite([]string{"main"}) },
	} {
		settings()
		for _, p := range []*symdb.Partition{b, hand} {
			values := bv
			if p == hand {
				values = hv
			}
			if err := reused.AddPartition(p, values); err != nil {
				t.Fatal(err)
			}
		}
		checkedBuild(t, reused)
		reused.Reset(pt, 10, 20)
		if err := reused.AddPartition(hand, hv); err != nil {
			t.Fatal(err)
		}
		if err := reused.AddPartition(a, av); err != nil {
			t.Fatal(err)
		}
		if got := checkedBuild(t, reused); !proto.Equal(got, want) {
			t.Errorf("a reset builder built another profile")
		}
		reused.Reset(ProfileTypeInfo{Name: "memory"}, 0, 1)
	}
}

// sampleContents returns every sample of p as its locations' contents,
// leaf first, and its value, sorted.
func sampleContents(p *googlev1.Profile) []string {
	var out []string
	for _, s := range p.Sample {
		var b strings.Builder
		for _, id := range s.LocationId {
			l := p.Location[id-1]
			var mapping string
			if l.MappingId > 0 {
				mapping = p.StringTable[p.Mapping[l.MappingId-1].Filename]
			}
			fmt.Fprintf(&b, "%s@%x", mapping, l.Address)
			for _, ln := range l.Line {
				f := p.Function[ln.FunctionId-1]
				fmt.Fprintf(&b, ",%s:%d", p.StringTable[f.Name], ln.Line)
			}
			b.WriteString(";")
		}
		out = append(out, fmt.Sprintf("%s=%d", b.String(), s.Value[0]))
	}
	slices.Sort(out)
	return out
}

func TestProfileBuilderSelectors(t *testing.T) {
	pt := ProfileTypeInfo{Name: "memory", SampleType: "alloc_space", SampleUnit: "bytes", PeriodType: "space", PeriodUnit: "bytes"}
	tests := []struct {
		name     string
		callSite []string
		pgo      *GoPGO
		raw      int
		samples  []string
	}{
		{name: "call site main", callSite: []string{"main"}, raw: 8,
			samples: []string{"a;a;main=4", "a;main=11", "inl;b;a;main=7", "main=11", "x;main=3"}},
		{name: "call site main a", callSite: []string{"main", "a"}, raw: 4,
			samples: []string{"a;a;main=4", "a;main=11", "inl;b;a;main=7"}},
		{name: "call site through inlined frames", callSite: []string{"main", "a", "b"}, raw: 1,
			samples: []string{"inl;b;a;main=7"}},
		{name: "call site skips line-less locations", callSite: []string{"main", "x"}, raw: 1,
			samples: []string{"x;main=3"}},
		{name: "call site longer than stacks", callSite: []string{"main", "a", "b", "inl", "z"}},
		{name: "call site not at the root", callSite: []string{"a"}},
		{name: "go_pgo keeps call site out", callSite: []string{"a"}, pgo: &GoPGO{}, raw: 8,
			samples: []string{"a;a;main=4", "a;main=11", "inl;b;a;main=7", "main=11", "x;main=3"}},
		{name: "go_pgo keep 1", pgo: &GoPGO{KeepLocations: 1}, raw: 6,
			samples: []string{"=10", "a=15", "inl;b=7", "main=1", "x=3"}},
		{name: "go_pgo keep 2 aggregate callees", pgo: &GoPGO{KeepLocations: 2, AggregateCallees: true}, raw: 7,
			samples: []string{"=8", "a;a=4", "a;main=11", "inl;b;a=7", "main=3", "x=3"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, values := handPartition()
			b := NewProfileBuilder(pt, 0, 1)
			b.SetCallSite(tc.callSite)
			b.SetGoPGO(tc.pgo)
			if err := b.AddPartition(p, values); err != nil {
				t.Fatal(err)
			}
			prof := checkedBuild(t, b)
			checkProfileIDs(t, prof)
			c := CanonicalView(prof)
			if tc.samples == nil {
				if !isEmptyProfile(prof) {
					t.Fatalf("want the empty profile, got %v", canonicalSamples(c))
				}
				return
			}
			if c.NumSamplesRaw != tc.raw {
				t.Errorf("%d raw samples, want %d", c.NumSamplesRaw, tc.raw)
			}
			if got := canonicalSamples(c); !slices.Equal(got, tc.samples) {
				t.Errorf("samples = %v, want %v", got, tc.samples)
			}
			if c.Period != 524288 {
				t.Errorf("period %d", c.Period)
			}
		})
	}

	// aggregate_callees zeroes the leaf's first line only.
	p, values := handPartition()
	b := NewProfileBuilder(pt, 0, 1)
	b.SetGoPGO(&GoPGO{KeepLocations: 5, AggregateCallees: true})
	if err := b.AddPartition(p, values); err != nil {
		t.Fatal(err)
	}
	prof := checkedBuild(t, b)
	for _, s := range prof.Sample {
		leaf := prof.Location[s.LocationId[0]-1]
		if len(leaf.Line) > 0 && leaf.Line[0].Line != 0 {
			t.Errorf("leaf location %d keeps line %d", leaf.Id, leaf.Line[0].Line)
		}
		for _, id := range s.LocationId[1:] {
			if l := prof.Location[id-1]; len(l.Line) > 0 && l.Line[len(l.Line)-1].Line == 0 {
				t.Errorf("caller location %d lost its line", id)
			}
		}
	}
}

// partitionOf builds a partition from root-first stacks of single-line
// locations, one location and function per distinct name and no mapping.
func partitionOf(stacks ...stackValue) (*symdb.Partition, []int64) {
	return partitionWithLocations(stacks, 1, func() int { return 0 })
}

// partitionWithLocations is partitionOf with perFunction locations (lines)
// per function, a frame taking the one pick returns.
func partitionWithLocations(stacks []stackValue, perFunction int, pick func() int) (*symdb.Partition, []int64) {
	p := &symdb.Partition{Strings: []string{""}}
	fnOf := map[string]int32{}
	type edge struct{ parent, loc int32 }
	nodeOf := map[edge]int32{}
	parents, locs := []int32{-1}, []int32{0}
	var values []int64
	values = append(values, 0)
	for _, s := range stacks {
		cur := int32(0)
		for _, name := range strings.Split(s.stack, ";") {
			fn, ok := fnOf[name]
			if !ok {
				p.Strings = append(p.Strings, name)
				fn = int32(len(p.Functions))
				p.Functions = append(p.Functions, symdb.Function{Name: uint32(len(p.Strings) - 1), SystemName: uint32(len(p.Strings) - 1)})
				for line := range int64(perFunction) {
					p.Locations = append(p.Locations, symdb.Location{Address: uint64(len(p.Locations)), Lines: []symdb.Line{{FunctionID: uint32(fn), Line: line}}})
				}
				fnOf[name] = fn
			}
			loc := fn*int32(perFunction) + int32(pick())
			n, ok := nodeOf[edge{cur, loc}]
			if !ok {
				n = int32(len(parents))
				parents = append(parents, cur)
				locs = append(locs, loc)
				values = append(values, 0)
				nodeOf[edge{cur, loc}] = n
			}
			cur = n
		}
		values[cur] += s.value
	}
	p.Tree = symdb.MustStackTree(parents, locs)
	return p, values
}

func TestProfileBuilderTruncation(t *testing.T) {
	p, values := partitionOf(
		stackValue{"main;a;b;c;d", 10},
		stackValue{"main;a;e;g", 1},
		stackValue{"main;f", 1},
		stackValue{"h;i", 1},
	)
	all := []string{"d;c;b;a;main=10", "f;main=1", "g;e;a;main=1", "i;h=1"}
	tests := []struct {
		maxNodes int64
		samples  []string
	}{
		{0, all},
		{10, all},
		{100, all},
		// Function tree totals 12 11 10 10 10 1 1 1 1 1: with 5 nodes the
		// cut-off is 10. "main;a;e;g" keeps e (the quirk of §6.7's
		// truncation keeps one marked frame) and stubs g; "main;f" keeps f
		// for the same reason; "h;i" has no kept frame at all.
		{5, []string{"d;c;b;a;main=10", "f;main=1", "other=1", "other;e;a;main=1"}},
		// Only main survives: both stacks under a keep a and merge; "main;f"
		// is kept whole by the same quirk.
		{1, []string{"f;main=1", "other=1", "other;a;main=11"}},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.maxNodes), func(t *testing.T) {
			b := NewProfileBuilder(ProfileTypeInfo{Name: "wall", SampleType: "wall", SampleUnit: "microseconds"}, 0, 1)
			b.SetMaxNodes(tc.maxNodes)
			if err := b.AddPartition(p, values); err != nil {
				t.Fatal(err)
			}
			prof := checkedBuild(t, b)
			checkProfileIDs(t, prof)
			c := CanonicalView(prof)
			if got := canonicalSamples(c); !slices.Equal(got, tc.samples) {
				t.Errorf("samples = %v, want %v", got, tc.samples)
			}
			if c.Totals[0] != 13 || c.Period != 1 {
				t.Errorf("total %d period %d", c.Totals[0], c.Period)
			}
			stubbed := slices.ContainsFunc(tc.samples, func(s string) bool { return strings.HasPrefix(s, "other") })
			if stubbed {
				// The partition has no mapping: the stub brings mapping 1.
				if len(prof.Mapping) != 1 || prof.Mapping[0].Id != 1 {
					t.Errorf("mappings %v, want the stub mapping 1", prof.Mapping)
				}
				for _, l := range prof.Location {
					if len(l.Line) == 1 && prof.StringTable[prof.Function[l.Line[0].FunctionId-1].Name] == "other" && l.MappingId != 1 {
						t.Errorf("stub location mapping %d", l.MappingId)
					}
				}
			} else if len(prof.Mapping) != 0 {
				t.Errorf("unexpected mappings %v", prof.Mapping)
			}
		})
	}
}

func TestProfileBuilderEmpty(t *testing.T) {
	b := NewProfileBuilder(ProfileTypeInfo{Name: "process_cpu", SampleType: "cpu", SampleUnit: "nanoseconds"}, 1, 2)
	for _, maxNodes := range []int64{0, 8} {
		b.SetMaxNodes(maxNodes)
		if prof := checkedBuild(t, b); !isEmptyProfile(prof) {
			t.Errorf("Build with budget %d of nothing = %v", maxNodes, prof)
		}
	}
	// Values on the empty stack only.
	p := &symdb.Partition{Tree: symdb.MustStackTree([]int32{-1}, []int32{0})}
	if err := b.AddPartition(p, []int64{5}); err != nil {
		t.Fatal(err)
	}
	if prof := checkedBuild(t, b); !isEmptyProfile(prof) {
		t.Errorf("empty stacks gave %v", prof)
	}
}

func isEmptyProfile(p *googlev1.Profile) bool {
	return len(p.Sample) == 0 && len(p.SampleType) == 1 && p.SampleType[0].Type == 0 && p.SampleType[0].Unit == 0 &&
		p.PeriodType != nil && p.PeriodType.Type == 0 && p.PeriodType.Unit == 0 &&
		slices.Equal(p.StringTable, []string{""}) && p.Period == 0 && p.TimeNanos == 0 && p.DurationNanos == 0 &&
		len(p.Location) == 0 && len(p.Function) == 0 && len(p.Mapping) == 0
}

func canonicalSamples(c CanonicalProfile) []string {
	out := make([]string, 0, len(c.Samples))
	for _, s := range c.Samples {
		out = append(out, fmt.Sprintf("%s=%d", strings.Join(s.Stack, ";"), s.Values[0]))
	}
	return out
}

// checkProfileIDs checks that IDs are dense from 1 in slice order, every
// reference resolves, string 0 is empty and no sample has labels.
func checkProfileIDs(t *testing.T, p *googlev1.Profile) {
	t.Helper()
	if len(p.StringTable) == 0 || p.StringTable[0] != "" {
		t.Fatalf("string table %q does not start with the empty string", p.StringTable)
	}
	seen := map[string]bool{}
	for _, s := range p.StringTable {
		if seen[s] {
			t.Errorf("string %q twice", s)
		}
		seen[s] = true
	}
	str := func(i int64) {
		if i < 0 || i >= int64(len(p.StringTable)) {
			t.Errorf("string index %d out of range", i)
		}
	}
	for i, m := range p.Mapping {
		if m.Id != uint64(i+1) {
			t.Errorf("mapping %d has ID %d", i, m.Id)
		}
		str(m.Filename)
		str(m.BuildId)
	}
	for i, f := range p.Function {
		if f.Id != uint64(i+1) {
			t.Errorf("function %d has ID %d", i, f.Id)
		}
		str(f.Name)
		str(f.SystemName)
		str(f.Filename)
	}
	for i, l := range p.Location {
		if l.Id != uint64(i+1) {
			t.Errorf("location %d has ID %d", i, l.Id)
		}
		if l.MappingId > uint64(len(p.Mapping)) {
			t.Errorf("location %d: mapping %d out of range", l.Id, l.MappingId)
		}
		for _, ln := range l.Line {
			if ln.FunctionId < 1 || ln.FunctionId > uint64(len(p.Function)) {
				t.Errorf("location %d: function %d out of range", l.Id, ln.FunctionId)
			}
		}
	}
	used := make([]bool, len(p.Location))
	for _, s := range p.Sample {
		if len(s.Value) != 1 || len(s.Label) != 0 {
			t.Errorf("sample with %d values and %d labels", len(s.Value), len(s.Label))
		}
		for _, id := range s.LocationId {
			if id < 1 || id > uint64(len(p.Location)) {
				t.Fatalf("sample location %d out of range", id)
			}
			used[id-1] = true
		}
	}
	for i, u := range used {
		if !u {
			t.Errorf("location %d is not referenced", i+1)
		}
	}
}

func TestCallSiteMatcher(t *testing.T) {
	p, _ := handPartition()
	tests := []struct {
		callSite []string
		nodes    []int
	}{
		{nil, []int{1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13}},
		{[]string{"main"}, []int{1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12}},
		{[]string{"main", "a"}, []int{2, 3, 6, 7, 8}},
		{[]string{"main", "a", "a"}, []int{6, 7}},
		{[]string{"main", "a", "b"}, []int{3}},
		{[]string{"main", "a", "b", "inl"}, []int{3}},
		{[]string{"main", "a", "b", "inl", "z"}, nil},
		{[]string{"main", "x"}, []int{5}},
		{[]string{"x"}, []int{13}},
		{[]string{"a"}, nil},
	}
	m := NewCallSiteMatcher(nil)
	for _, tc := range tests {
		t.Run(strings.Join(tc.callSite, ";"), func(t *testing.T) {
			m.callSite = tc.callSite
			var got []int
			for i, ok := range m.Match(p) {
				if ok {
					got = append(got, i)
				}
			}
			if !slices.Equal(got, tc.nodes) {
				t.Errorf("matching nodes = %v, want %v", got, tc.nodes)
			}
		})
	}
}

// TestNameTreeScratchReuse builds name trees one after the other with the
// same scratch, as a Tree does, and checks each equals a tree built
// afresh: nothing of one partition's build may leak into the next.
func TestNameTreeScratchReuse(t *testing.T) {
	var parts []*symdb.Partition
	for _, stacks := range [][]stackValue{
		{{"a;b;c", 1}, {"a;b;d", 1}, {"a;e", 1}},
		{{"x;y", 1}, {"a;b;c", 1}, {"x;z;z;z", 1}},
		{{"b;a", 1}, {"c", 1}},
	} {
		p, _ := partitionOf(stacks...)
		parts = append(parts, p)
	}
	// A larger partition grows the scratch after the small ones used it;
	// the small ones after it reuse it as it is.
	var big []stackValue
	for i := range 300 {
		big = append(big, stackValue{fmt.Sprintf("r;f%d;g%d", i, i), 1})
	}
	p, _ := partitionOf(big...)
	parts = append(parts, p, parts[0], parts[1])

	var scratch nameTreeScratch
	for i, p := range parts {
		gotNames := buildNameTree(p, p.Leaves(), &scratch)
		wantNames := buildNameTree(p, p.Leaves(), &nameTreeScratch{})
		got, want := gotNames.tree.nodes.Load(), wantNames.tree.nodes.Load()
		if !slices.Equal(got.parent, want.parent) || !slices.Equal(got.name16, want.name16) || !slices.Equal(got.name32, want.name32) ||
			!slices.Equal(gotNames.leafName, wantNames.leafName) || !slices.Equal(got.names, want.names) || !slices.Equal(got.hashes, want.hashes) {
			t.Errorf("partition %d: reused scratch built parents %v names %v, fresh %v %v", i, got.parent, got.name16, want.parent, want.name16)
		}
	}
}

// A reset tree keeps its names and the name IDs of live partitions; what
// it builds next must not show any of it.
func TestResetKeepsNames(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	reused := NewTree()
	var firstNames int
	for i := range 40 {
		stacks := randomStacks(rng, 1+rng.IntN(40), 1+rng.IntN(6), 1+rng.IntN(12), i%3 == 0)
		p, values := partitionOf(stacks...)
		budget := int64(rng.IntN(30))
		fresh := NewTree()
		for _, tr := range []*Tree{reused, fresh} {
			// Twice: the second time through the kept name IDs.
			for range 2 {
				if err := tr.AddPartitionTruncated(p, values, budget); err != nil {
					t.Fatal(err)
				}
			}
		}
		if g, w := treeDump(reused), treeDump(fresh); !slices.Equal(g, w) {
			t.Fatalf("case %d: reused tree %v, fresh %v", i, g, w)
		}
		if g, w := reused.FlameGraph(budget), fresh.FlameGraph(budget); !proto.Equal(g, w) {
			t.Fatalf("case %d: reused tree's flame graph %v, fresh %v", i, g, w)
		}
		if g, w := reused.MarshalTree(budget), fresh.MarshalTree(budget); !bytes.Equal(g, w) {
			t.Fatalf("case %d: reused tree's tree bytes differ from a fresh tree's", i)
		}
		if i == 0 {
			firstNames = len(reused.names)
		}
		reused.Reset()
		if reused.Len() != 0 || reused.Total() != 0 {
			t.Fatalf("case %d: %d nodes, total %d after Reset", i, reused.Len(), reused.Total())
		}
	}
	if len(reused.names) < firstNames {
		t.Errorf("Reset dropped names: %d, had %d", len(reused.names), firstNames)
	}
	for id, s := range reused.names {
		if got := reused.lookupName(s); got != int32(id) {
			t.Fatalf("name %q has ID %d, its table says %d", s, id, got)
		}
	}

	// Name IDs of partitions that are gone are dropped with them.
	runtime.GC()
	reused.Reset()
	if n := len(reused.partitionNames); n != 0 {
		t.Errorf("%d name-ID tables of freed partitions kept", n)
	}
}

// A partition counts its name tree, and what else flame graphs derive from
// it, in its size, for the partition cache.
func TestNameTreeIsSized(t *testing.T) {
	p, values := partitionOf(stackValue{"a;b;c", 1}, stackValue{"a;d", 2})
	before := p.SizeBytes()
	if err := NewTree().AddPartition(p, values); err != nil {
		t.Fatal(err)
	}
	// Values per node build the name tree, the leaf index it is built
	// with, and the node map.
	nt := partitionNameTree(p, nil, &nameTreeScratch{})
	derived := nt.SizeBytes() + p.Leaves().SizeBytes() + partitionNodeMap(p, nt, &nameTreeScratch{}).SizeBytes()
	if got, want := p.SizeBytes(), before+derived; got != want || nt.SizeBytes() <= 0 {
		t.Errorf("partition of %d bytes with a name tree of %d: SizeBytes %d, want %d", before, nt.SizeBytes(), got, want)
	}
}

// A partition's name tree keeps names in 16 bits up to 1<<16 distinct
// names, in 32 beyond, and the name nodes of partition nodes as 16-bit
// distances unless one is farther (as in a chunk that repeats an earlier
// one's stacks); in every form the partition adds the tree its stacks
// make, whole or truncated.
func TestNameTreeCompactForms(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		names, chunks        int
		wideNames, wideNodes bool
	}{
		{"65536 names", 1 << 16, 1, false, false},
		{"65537 names", 1<<16 + 1, 1, true, false},
		{"repeated chunk", 40000, 2, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// main and f1 … f(names-1); the last names are callers and
			// callees of the first ones too.
			var stacks []stackValue
			for k := 1; k < tc.names; k++ {
				stacks = append(stacks, stackValue{fmt.Sprintf("main;f%d", k), int64(1 + k%7)})
			}
			last := tc.names - 1
			stacks = append(stacks,
				stackValue{fmt.Sprintf("f%d;f1;f%d", last, last-1), 50},
				stackValue{fmt.Sprintf("f1;f%d;main", last), 60},
			)
			p, values := partitionOf(stacks...)
			// More chunks: copies of the first, root and all.
			parents, locs := p.Tree.AppendParents(nil), p.Tree.AppendLocations(nil)
			n := int32(len(parents))
			for c := int32(1); c < int32(tc.chunks); c++ {
				for i := range n {
					par := parents[i]
					if par >= 0 {
						par += c * n
					}
					parents = append(parents, par)
					locs = append(locs, locs[i])
					values = append(values, values[i])
				}
			}
			p.Tree = symdb.MustStackTree(parents, locs)
			var all []stackValue
			for range tc.chunks {
				all = append(all, stacks...)
			}

			pn := partitionNameTree(p, nil, &nameTreeScratch{})
			nt := pn.tree.nodes.Load()
			if len(nt.names) != tc.names || (nt.name32 != nil) != tc.wideNames || (nt.name16 != nil) == tc.wideNames {
				t.Errorf("%d names in 16 bits %v, in 32 bits %v; want wide %v", len(nt.names), nt.name16 != nil, nt.name32 != nil, tc.wideNames)
			}
			nm := partitionNodeMap(p, pn, &nameTreeScratch{})
			if (nm.of32 != nil) != tc.wideNodes || (nm.delta != nil) == tc.wideNodes {
				t.Errorf("name nodes as distances %v, in 32 bits %v; want wide %v", nm.delta != nil, nm.of32 != nil, tc.wideNodes)
			}
			// A tree of its own: the partition is charged all of it, the
			// names but their headers being the partition's strings.
			want := int64(unsafe.Sizeof(*pn)) + int64(unsafe.Sizeof(*pn.tree)) + int64(unsafe.Sizeof(*nt)) + 2*int64(cap(nt.name16)) +
				4*int64(cap(pn.leafName)+cap(nt.parent)+cap(nt.name32)+cap(nt.hashes)) + int64(unsafe.Sizeof(""))*int64(cap(nt.names)) +
				4*int64(cap(nt.segments.start)+cap(nt.segments.parent)) + int64(unsafe.Sizeof(segmentWord{}))*int64(cap(nt.segments.first))
			if got := pn.SizeBytes(); got != want {
				t.Errorf("name tree of %d nodes sized %d bytes, want %d", len(nt.parent), got, want)
			}
			if got, want := nm.SizeBytes(), int64(unsafe.Sizeof(*nm))+2*int64(cap(nm.delta))+4*int64(cap(nm.of32)); got != want {
				t.Errorf("node map sized %d bytes, want %d", got, want)
			}

			tr := NewTree()
			if err := tr.AddPartition(p, values); err != nil {
				t.Fatal(err)
			}
			if g, w := treeDump(tr), treeDump(treeOf(all...)); !slices.Equal(g, w) {
				t.Errorf("tree differs from the stacks' (%d vs %d nodes)", len(g), len(w))
			}
			// The nodes kept are those of the last names, with totals of
			// 50 and more; the many below main become one "other".
			cut := NewTree()
			if err := cut.AddPartitionTruncated(p, values, 6); err != nil {
				t.Fatal(err)
			}
			if g, w := treeDump(cut), treeDump(truncatedPartitionRef(t, p, values, 6)); !slices.Equal(g, w) {
				t.Errorf("truncated tree %v, want %v", g, w)
			}
		})
	}
}

// Merging reused trees goes through name tables kept from earlier merges;
// the answers must be those of fresh trees, also after a tree's names
// were dropped and its name IDs mean other names.
func TestMergeReusedTrees(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	a, b := NewTree(), NewTree()
	for i := range 30 {
		sa := randomStacks(rng, 1+rng.IntN(30), 1+rng.IntN(5), 1+rng.IntN(15), i%4 == 0)
		sb := randomStacks(rng, 1+rng.IntN(30), 1+rng.IntN(5), 1+rng.IntN(15), false)
		if i%7 == 3 {
			// b's name IDs now stand for other names than a knows.
			b.dropNames()
			sb = append(sb, stackValue{fmt.Sprintf("renamed%d;x", i), 1})
		}
		for _, s := range sa {
			a.InsertStack(s.value, strings.Split(s.stack, ";")...)
		}
		for _, s := range sb {
			b.InsertStack(s.value, strings.Split(s.stack, ";")...)
		}
		want := treeOf(append(slices.Clone(sa), sb...)...)
		a.Merge(b)
		if g, w := treeDump(a), treeDump(want); !slices.Equal(g, w) {
			t.Fatalf("case %d: merged %v, want %v", i, g, w)
		}
		cut := a.TruncateTo(NewTree(), 5)
		if g, w := treeDump(cut), treeDump(want.Truncate(5)); !slices.Equal(g, w) {
			t.Fatalf("case %d: cut %v, want %v", i, g, w)
		}
		a.Reset()
		b.Reset()
	}
}

// Trees kept for reuse, each of which added a large partition, hold their
// nodes and names but not the arrays addPartition fills per name node:
// those are lent to one tree at a time.
func TestReusedTreesShareScratch(t *testing.T) {
	p, values := syntheticPartition(100_000, 9)
	// The first tree builds the partition's name tree.
	first := NewTree()
	if err := first.AddPartitionTruncated(p, values, 16); err != nil {
		t.Fatal(err)
	}
	first.Reset()
	nameNodes := len(partitionNameTree(p, nil, &nameTreeScratch{}).tree.nodes.Load().parent)

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	pool := NewScratchPool(2)
	kept := make([]*Tree, 8)
	for i := range kept {
		kept[i] = NewTree()
		kept[i].ShareScratch(pool)
		if err := kept[i].AddPartitionTruncated(p, values, 16); err != nil {
			t.Fatal(err)
		}
		kept[i].Reset()
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(p)
	runtime.KeepAlive(values)
	runtime.KeepAlive(first)
	runtime.KeepAlive(kept)
	perTree := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / int64(len(kept))
	// The scratch is three int64 arrays per name node and one of int32 (a
	// cut partition); a tree holds nodes and name IDs far below one.
	if limit := int64(8 * nameNodes); perTree > limit {
		t.Errorf("each reused tree holds %d bytes after adding a partition of %d name nodes, want under %d", perTree, nameNodes, limit)
	}
}

// The scratch pool lends at most as many scratches at a time as it was
// made for: one more borrower waits for a scratch to come back, and gets
// that one.
func TestScratchPoolLendsOnePerCore(t *testing.T) {
	n := 3
	sp := NewScratchPool(n)
	held := make([]*partitionScratch, n)
	for i := range held {
		held[i] = sp.get()
	}
	got := make(chan *partitionScratch)
	go func() { got <- sp.get() }()
	select {
	case <-got:
		t.Fatalf("lent %d scratches from a pool of %d", n+1, n)
	case <-time.After(50 * time.Millisecond):
	}
	sp.put(held[0])
	select {
	case sc := <-got:
		if sc != held[0] {
			t.Errorf("the waiting borrower got a new scratch, not the one returned")
		}
		held[0] = sc
	case <-time.After(10 * time.Second):
		t.Fatal("a returned scratch did not reach the waiting borrower")
	}
	for _, sc := range held {
		sp.put(sc)
	}
	if len(sp.free) != n || sp.lent != 0 {
		t.Errorf("pool keeps %d scratches, %d lent; want %d, 0", len(sp.free), sp.lent, n)
	}
}

// Trim keeps the free sets while they are lent between two Trims and
// drops them after an interval without a lend; a set lent out is kept by
// its borrower.
func TestScratchPoolTrim(t *testing.T) {
	sp := NewScratchPool(2)
	a, b := sp.get(), sp.get()
	sp.put(a)
	sp.Trim() // lent since the pool was made: kept
	if len(sp.free) != 1 {
		t.Fatalf("%d free sets after a Trim that followed a lend, want 1", len(sp.free))
	}
	sp.Trim() // idle for a whole interval: dropped
	if len(sp.free) != 0 {
		t.Fatalf("%d free sets after an idle interval, want 0", len(sp.free))
	}
	sp.put(b) // the set that was lent out comes back and is kept
	if len(sp.free) != 1 || sp.lent != 0 {
		t.Fatalf("pool keeps %d sets, %d lent; want 1, 0", len(sp.free), sp.lent)
	}
}

// Trees built at once by more goroutines than cores, sharing the lent
// scratch, equal trees built one after the other.
func TestConcurrentAddPartition(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	type input struct {
		p      *symdb.Partition
		values []int64
		budget int64
	}
	var inputs []input
	for i := range 12 {
		p, values := partitionOf(randomStacks(rng, 1+rng.IntN(60), 1+rng.IntN(6), 1+rng.IntN(20), i%3 == 0)...)
		inputs = append(inputs, input{p, values, int64(rng.IntN(25))})
	}
	build := func(tr *Tree, first int) {
		for k := range inputs {
			in := inputs[(first+k)%len(inputs)]
			if err := tr.AddPartitionTruncated(in.p, in.values, in.budget); err != nil {
				t.Error(err)
			}
		}
	}
	want := make([][]string, 4*runtime.GOMAXPROCS(0))
	for g := range want {
		tr := NewTree()
		build(tr, g)
		want[g] = treeDump(tr)
	}
	got := make([][]string, len(want))
	done := make(chan int)
	pool := NewScratchPool(runtime.GOMAXPROCS(0))
	for g := range got {
		go func() {
			tr := NewTree()
			tr.ShareScratch(pool)
			build(tr, g)
			got[g] = treeDump(tr)
			done <- g
		}()
	}
	for range got {
		<-done
	}
	for g := range got {
		if !slices.Equal(got[g], want[g]) {
			t.Errorf("goroutine %d built %v, want %v", g, got[g], want[g])
		}
	}
}

// Values summed per leaf, with the inner nodes' values per node when there
// are any, make the same tree as the same values per node.
func TestAddLeavesTruncatedMatchesNodes(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	split := splitLeafValues
	type input struct {
		p      *symdb.Partition
		values []int64
	}
	var inputs []input
	for i := range 40 {
		p, values := partitionOf(randomStacks(rng, 1+rng.IntN(60), 1+rng.IntN(6), 1+rng.IntN(20), i%3 == 0)...)
		inputs = append(inputs, input{p, values})
	}
	big, bigValues := syntheticPartition(20_000, 7)
	inputs = append(inputs, input{big, bigValues})
	sawInner, sawLeavesOnly := false, false
	for i, in := range inputs {
		leaf, inner := split(in.p, in.values)
		if inner != nil {
			sawInner = true
		} else {
			sawLeavesOnly = true
		}
		for _, budget := range []int64{0, 5, 16} {
			want, got := NewTree(), NewTree()
			if err := want.AddPartitionTruncated(in.p, in.values, budget); err != nil {
				t.Fatal(err)
			}
			if err := got.AddLeavesTruncated(in.p, leaf, inner, budget); err != nil {
				t.Fatal(err)
			}
			if g, w := treeDump(got), treeDump(want); !slices.Equal(g, w) {
				t.Fatalf("case %d, budget %d: leaves made %v, nodes %v", i, budget, g, w)
			}
		}
	}
	if !sawInner || !sawLeavesOnly {
		t.Errorf("cases with inner values: %v, with leaves only: %v; want both", sawInner, sawLeavesOnly)
	}
	p, values := inputs[0].p, inputs[0].values
	leaf, _ := split(p, values)
	if err := NewTree().AddLeavesTruncated(p, leaf[1:], nil, 0); !errors.Is(err, ErrPartitionShape) {
		t.Errorf("one leaf value short: %v, want ErrPartitionShape", err)
	}
}

// Values on leaves only do not make a partition hold a map of every node.
func TestLeafValuesKeepNoNodeMap(t *testing.T) {
	p, values := partitionOf(stackValue{"a;b;c", 1}, stackValue{"a;d", 2}, stackValue{"e", 3})
	before := p.SizeBytes()
	leaves := p.Leaves()
	leaf := make([]int64, leaves.Count)
	for i, v := range values {
		if k, ok := leaves.Leaf(int32(i)); ok {
			leaf[k] = v
		} else if v != 0 {
			t.Fatalf("node %d is not a leaf but has value %d", i, v)
		}
	}
	tr := NewTree()
	if err := tr.AddLeavesTruncated(p, leaf, nil, 0); err != nil {
		t.Fatal(err)
	}
	nt := partitionNameTree(p, nil, &nameTreeScratch{})
	if got, want := p.SizeBytes(), before+leaves.SizeBytes()+nt.SizeBytes(); got != want {
		t.Errorf("partition holds %d bytes after leaf values, want %d: the name tree and leaf index only", got, want)
	}
	if g, w := treeDump(tr), treeDump(treeOf(stackValue{"a;b;c", 1}, stackValue{"a;d", 2}, stackValue{"e", 3})); !slices.Equal(g, w) {
		t.Errorf("tree %v, want %v", g, w)
	}
}
