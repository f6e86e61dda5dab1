package flamegraph

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/cinder-profiling/cinder/pkg/symdb"
)

// randomStacks draws stacks over names f0…f(names-1); with withOther, f0 is
// called "other".
func randomStacks(rng *rand.Rand, stacks, depth, names int, withOther bool) []stackValue {
	out := make([]stackValue, 0, stacks)
	frames := make([]string, 0, depth)
	for range stacks {
		frames = frames[:0]
		for range 1 + rng.IntN(depth) {
			f := fmt.Sprintf("f%d", rng.IntN(names))
			if withOther && f == "f0" {
				f = otherName
			}
			frames = append(frames, f)
		}
		out = append(out, stackValue{strings.Join(frames, ";"), 1 + int64(rng.IntN(20))})
	}
	return out
}

func TestTruncateEqualsMarshalRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range 400 {
		tr := treeOf(randomStacks(rng, 1+rng.IntN(60), 1+rng.IntN(7), 1+rng.IntN(10), rng.IntN(2) == 0)...)
		maxNodes := int64(rng.IntN(tr.Len() + 3))
		want, err := UnmarshalTree(tr.MarshalTree(maxNodes))
		if err != nil {
			t.Fatal(err)
		}
		before := treeDump(tr)
		got := tr.Truncate(maxNodes)
		if g, w := treeDump(got), treeDump(want); !slices.Equal(g, w) {
			t.Fatalf("case %d, budget %d:\n got %v\nwant %v", i, maxNodes, g, w)
		}
		if !slices.Equal(treeDump(tr), before) {
			t.Fatalf("case %d: Truncate changed its receiver", i)
		}
		if small := maxNodes < 1 || int64(tr.Len()) <= maxNodes; small != (got == tr) {
			t.Fatalf("case %d: budget %d over %d nodes returned the receiver: %v", i, maxNodes, tr.Len(), got == tr)
		}
	}
}

func TestTruncateKeepsOther(t *testing.T) {
	// Totals: main 14, a 10, other 2, z 1, q 1, b 1. Budget 2 → cut-off
	// 10: the "other" child stays and takes q and b; below it, z is cut
	// like any node and goes to an "other" of its own.
	tr := treeOf(
		stackValue{"main;a", 10},
		stackValue{"main;other", 1},
		stackValue{"main;other;z", 1},
		stackValue{"main;q", 1},
		stackValue{"main;b", 1},
	)
	want := treeOf(
		stackValue{"main;a", 10},
		stackValue{"main;other", 3},
		stackValue{"main;other;other", 1},
	)
	if g, w := treeDump(tr.Truncate(2)), treeDump(want); !slices.Equal(g, w) {
		t.Fatalf("got %v, want %v", g, w)
	}
}

// truncatedPartitionRef is the partition stage spelled out: the partition's
// name tree, its maxNodes-th largest total, and a walk from the root that
// keeps nodes reaching it and sums the rest into "other" per parent.
func truncatedPartitionRef(t *testing.T, p *symdb.Partition, values []int64, maxNodes int64) *Tree {
	t.Helper()
	full := NewTree()
	if err := full.AddPartition(p, values); err != nil {
		t.Fatal(err)
	}
	full.computeTotals()
	var minTotal int64
	if n := full.Len(); maxNodes >= 1 && int64(n) > maxNodes {
		totals := slices.Clone(full.total[1:])
		sort.Slice(totals, func(i, j int) bool { return totals[i] > totals[j] })
		minTotal = totals[maxNodes-1]
	}
	out := NewTree()
	// Children in ID order, listed once: a scan of every node per node
	// visited took seconds on trees of tens of thousands of nodes.
	kids := make([][]int32, len(full.parent))
	for c := int32(1); c < int32(len(full.parent)); c++ {
		kids[full.parent[c]] = append(kids[full.parent[c]], c)
	}
	var walk func(node int32, path []string)
	walk = func(node int32, path []string) {
		if node > 0 && full.self[node] > 0 {
			out.InsertStack(full.self[node], path...)
		}
		var other int64
		for _, c := range kids[node] {
			if full.total[c] >= minTotal {
				walk(c, append(slices.Clone(path), full.names[full.name[c]]))
			} else {
				other += full.total[c]
			}
		}
		if other > 0 {
			out.InsertStack(other, append(slices.Clone(path), otherName)...)
		}
	}
	walk(0, nil)
	return out
}

func TestAddPartitionTruncated(t *testing.T) {
	// Totals: main 12, a 11, b 10, x 2, y 2, c 1, d 1. Budget 4 → cut-off
	// 2: c goes to a's "other", d to main's.
	p, values := partitionOf(
		stackValue{"main;a;b", 10},
		stackValue{"main;a;c", 1},
		stackValue{"main;d", 1},
		stackValue{"x;y", 2},
	)
	tr := NewTree()
	if err := tr.AddPartitionTruncated(p, values, 4); err != nil {
		t.Fatal(err)
	}
	want := treeOf(
		stackValue{"main;a;b", 10},
		stackValue{"main;a;other", 1},
		stackValue{"main;other", 1},
		stackValue{"x;y", 2},
	)
	if g, w := treeDump(tr), treeDump(want); !slices.Equal(g, w) {
		t.Fatalf("got %v, want %v", g, w)
	}

	// A function named "other" is dropped like any other at this stage
	// (Truncate would keep it): its subtree goes into main's "other".
	p, values = partitionOf(
		stackValue{"main;a", 10},
		stackValue{"main;other;z", 1},
		stackValue{"main;q", 1},
	)
	tr = NewTree()
	if err := tr.AddPartitionTruncated(p, values, 2); err != nil {
		t.Fatal(err)
	}
	want = treeOf(stackValue{"main;a", 10}, stackValue{"main;other", 2})
	if g, w := treeDump(tr), treeDump(want); !slices.Equal(g, w) {
		t.Fatalf("other named function: got %v, want %v", g, w)
	}

	// Each partition is cut on its own: c and a go to "other" in one
	// partition each, where truncating the merged tree (main 20, b 8, a 6,
	// c 6) with the same budget would cut nothing.
	p1, v1 := partitionOf(stackValue{"main;a", 5}, stackValue{"main;b", 4}, stackValue{"main;c", 1})
	p2, v2 := partitionOf(stackValue{"main;c", 5}, stackValue{"main;b", 4}, stackValue{"main;a", 1})
	tr = NewTree()
	for _, pv := range []struct {
		p *symdb.Partition
		v []int64
	}{{p1, v1}, {p2, v2}} {
		if err := tr.AddPartitionTruncated(pv.p, pv.v, 3); err != nil {
			t.Fatal(err)
		}
	}
	want = treeOf(stackValue{"main;a", 5}, stackValue{"main;b", 8}, stackValue{"main;c", 5}, stackValue{"main;other", 2})
	if g, w := treeDump(tr), treeDump(want); !slices.Equal(g, w) {
		t.Fatalf("two partitions: got %v, want %v", g, w)
	}

	// A malformed partition is an error whatever the budget.
	for _, maxNodes := range []int64{0, 1, 100} {
		if err := NewTree().AddPartitionTruncated(p, values[:2], maxNodes); err == nil {
			t.Errorf("budget %d: short values accepted", maxNodes)
		}
	}
}

func TestAddPartitionTruncatedProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for i := range 300 {
		stacks := randomStacks(rng, 1+rng.IntN(50), 1+rng.IntN(6), 1+rng.IntN(9), false)
		p, values := partitionOf(stacks...)
		whole := NewTree()
		if err := whole.AddPartition(p, values); err != nil {
			t.Fatal(err)
		}
		maxNodes := int64(rng.IntN(whole.Len() + 3))
		// Into a tree that already holds something, reusing its scratch.
		got := treeOf(stackValue{"seed;s", 3})
		want := treeOf(stackValue{"seed;s", 3})
		for range 2 {
			if err := got.AddPartitionTruncated(p, values, maxNodes); err != nil {
				t.Fatal(err)
			}
			want.Merge(truncatedPartitionRef(t, p, values, maxNodes))
		}
		if g, w := treeDump(got), treeDump(want); !slices.Equal(g, w) {
			t.Fatalf("case %d, budget %d of %d nodes:\n got %v\nwant %v", i, maxNodes, whole.Len(), g, w)
		}
	}
}

func TestProfileBuilderTruncationByFunctionID(t *testing.T) {
	// Two functions share the name f (different files). Stacks, root
	// first: main;f(a.go);h = 3, main;f(b.go);h = 2, main;g = 4.
	p := &symdb.Partition{
		Strings: []string{"", "main", "f", "g", "h", "a.go", "b.go"},
		Functions: []symdb.Function{
			{Name: 1, SystemName: 1},
			{Name: 2, SystemName: 2, Filename: 5},
			{Name: 2, SystemName: 2, Filename: 6},
			{Name: 3, SystemName: 3},
			{Name: 4, SystemName: 4},
		},
		Locations: []symdb.Location{
			{Address: 1, Lines: []symdb.Line{{FunctionID: 0}}},
			{Address: 2, Lines: []symdb.Line{{FunctionID: 1}}},
			{Address: 3, Lines: []symdb.Line{{FunctionID: 2}}},
			{Address: 4, Lines: []symdb.Line{{FunctionID: 3}}},
			{Address: 5, Lines: []symdb.Line{{FunctionID: 4}}},
		},
		Tree: symdb.MustStackTree([]int32{-1, 0, 1, 2, 1, 4, 1}, []int32{0, 0, 1, 4, 2, 4, 3}),
	}
	values := []int64{0, 0, 0, 3, 0, 2, 4}
	pt := ProfileTypeInfo{Name: "wall", SampleType: "wall", SampleUnit: "microseconds"}
	build := func(maxNodes int64, parts int) []string {
		b := NewProfileBuilder(pt, 0, 1)
		b.SetMaxNodes(maxNodes)
		for range parts {
			if err := b.AddPartition(p, values); err != nil {
				t.Fatal(err)
			}
		}
		prof := checkedBuild(t, b)
		checkProfileIDs(t, prof)
		return canonicalSamples(CanonicalView(prof))
	}
	// By function ID the tree is main 9, g 4, f(a.go) 3, h 3, f(b.go) 2,
	// h 2: budget 2 keeps main and g. Each f;h stack keeps its f (the
	// quirk of §6.7) above the stub; the stubbed stacks merge by name in
	// the canonical view. By name (f 5, h 5, g 4) nothing would be cut.
	want := []string{"g;main=4", "other;f;main=5"}
	if got := build(2, 1); !slices.Equal(got, want) {
		t.Errorf("budget 2: %v, want %v", got, want)
	}
	// Partitions are cut one by one: the same partition twice gives the
	// same stacks with twice the values.
	want = []string{"g;main=8", "other;f;main=10"}
	if got := build(2, 2); !slices.Equal(got, want) {
		t.Errorf("budget 2, twice: %v, want %v", got, want)
	}
	whole := []string{"g;main=4", "h;f;main=5"}
	if got := build(6, 1); !slices.Equal(got, whole) {
		t.Errorf("budget 6: %v, want %v", got, whole)
	}
	if got := build(0, 1); !slices.Equal(got, whole) {
		t.Errorf("no budget: %v, want %v", got, whole)
	}
}

func TestProfileBuilderTruncationWithoutFrames(t *testing.T) {
	// A stack of line-less locations has no function: with a budget it
	// becomes the stub sample even when nothing is cut; without one it
	// keeps its locations.
	p := &symdb.Partition{
		Strings:   []string{"", "main"},
		Functions: []symdb.Function{{Name: 1, SystemName: 1}},
		Locations: []symdb.Location{{Address: 1, Lines: []symdb.Line{{FunctionID: 0}}}, {Address: 2}},
		Tree:      symdb.MustStackTree([]int32{-1, 0, 0}, []int32{0, 0, 1}),
	}
	values := []int64{0, 3, 5}
	pt := ProfileTypeInfo{Name: "wall", SampleType: "wall", SampleUnit: "microseconds"}
	for _, tc := range []struct {
		maxNodes int64
		want     []string
	}{
		{0, []string{"=5", "main=3"}},
		{100, []string{"main=3", "other=5"}},
	} {
		b := NewProfileBuilder(pt, 0, 1)
		b.SetMaxNodes(tc.maxNodes)
		if err := b.AddPartition(p, values); err != nil {
			t.Fatal(err)
		}
		if b.Total() != 8 {
			t.Errorf("budget %d: Total() = %d, want 8", tc.maxNodes, b.Total())
		}
		if got := canonicalSamples(CanonicalView(checkedBuild(t, b))); !slices.Equal(got, tc.want) {
			t.Errorf("budget %d: %v, want %v", tc.maxNodes, got, tc.want)
		}
	}
}

func TestProfileBuilderSetTimes(t *testing.T) {
	p, values := partitionOf(stackValue{"main", 1})
	b := NewProfileBuilder(ProfileTypeInfo{Name: "wall", SampleType: "wall", SampleUnit: "microseconds"}, 1000, 5000)
	if err := b.AddPartition(p, values); err != nil {
		t.Fatal(err)
	}
	if prof := checkedBuild(t, b); prof.TimeNanos != 5000e6 || prof.DurationNanos != 4000e6 {
		t.Errorf("time %d duration %d, want the range", prof.TimeNanos, prof.DurationNanos)
	}
	b.SetTimes(7, 9)
	if prof := checkedBuild(t, b); prof.TimeNanos != 7 || prof.DurationNanos != 9 {
		t.Errorf("time %d duration %d, want 7 and 9", prof.TimeNanos, prof.DurationNanos)
	}
}
