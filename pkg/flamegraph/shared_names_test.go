package flamegraph

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"testing"
	"unsafe"
	"weak"

	"google.golang.org/protobuf/proto"

	"github.com/cinder-profiling/cinder/pkg/symdb"
)

// splitLeafValues splits values per node of p into values per leaf and,
// when a node that is not a leaf has one, values per node for the others.
func splitLeafValues(p *symdb.Partition, values []int64) (leaf, inner []int64) {
	leaves := p.Leaves()
	leaf = make([]int64, leaves.Count)
	for i, v := range values {
		if k, ok := leaves.Leaf(int32(i)); ok {
			leaf[k] = v
		} else if v != 0 {
			if inner == nil {
				inner = make([]int64, len(values))
			}
			inner[i] = v
		}
	}
	return leaf, inner
}

// blockStacks returns the stacks of a service in n blocks, one after the
// other: most stacks come from a set every block draws from, some are a
// block's own, with names no other block has.
func blockStacks(rng *rand.Rand, n int) [][]stackValue {
	common := randomStacks(rng, 120, 7, 25, true)
	out := make([][]stackValue, n)
	for b := range out {
		for _, s := range common {
			if rng.IntN(10) < 7 {
				out[b] = append(out[b], stackValue{s.stack, 1 + int64(rng.IntN(30))})
			}
		}
		for _, s := range randomStacks(rng, 1+rng.IntN(15), 5, 8, false) {
			out[b] = append(out[b], stackValue{fmt.Sprintf("f1;b%d%s", b, s.stack), s.value})
		}
	}
	return out
}

// sharedInput is a partition, made twice from the same stacks: one for
// trees that share names, one for trees that do not (a partition keeps
// the names of the first tree that adds it).
type sharedInput struct {
	shared, own *symdb.Partition
	values      []int64
}

func sharedInputs(stacks [][]stackValue) []sharedInput {
	var in []sharedInput
	for _, s := range stacks {
		p, values := partitionOf(s...)
		own, _ := partitionOf(s...)
		in = append(in, sharedInput{p, own, values})
	}
	// The hand-made partition, with inlined and line-less locations and
	// two chunks, of the same key.
	p, values := handPartition()
	own, _ := handPartition()
	p.Key, own.Key = 0, 0
	return append(in, sharedInput{p, own, values})
}

// Partitions of a key that share a name tree give the trees, flame graphs
// and tree bytes that trees of their own give, whole and truncated, with
// values per node, per leaf, and per leaf and inner node.
func TestSharedNamesMatchOwn(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	in := sharedInputs(blockStacks(rng, 5))
	type add func(tr *Tree, p *symdb.Partition, values []int64, budget int64) error
	modes := []struct {
		name string
		add  add
	}{
		{"nodes", func(tr *Tree, p *symdb.Partition, values []int64, budget int64) error {
			return tr.AddPartitionTruncated(p, values, budget)
		}},
		{"leaves", func(tr *Tree, p *symdb.Partition, values []int64, budget int64) error {
			leaf, _ := splitLeafValues(p, values)
			return tr.AddLeavesTruncated(p, leaf, nil, budget)
		}},
		{"leaves and inner nodes", func(tr *Tree, p *symdb.Partition, values []int64, budget int64) error {
			leaf, inner := splitLeafValues(p, values)
			if inner == nil {
				inner = make([]int64, len(values))
			}
			return tr.AddLeavesTruncated(p, leaf, inner, budget)
		}},
	}
	inner := 0
	for _, x := range in {
		if _, iv := splitLeafValues(x.own, x.values); iv != nil {
			inner++
		}
	}
	if inner == 0 {
		t.Fatal("no partition has values on inner nodes")
	}
	names := NewNameTrees()
	for _, mode := range modes {
		for _, budget := range []int64{0, 1, 4, 12, 40} {
			t.Run(fmt.Sprintf("%s/%d", mode.name, budget), func(t *testing.T) {
				shared, own := NewTree(), NewTree()
				shared.ShareNames(names)
				for i, x := range in {
					one, oneOwn := NewTree(), NewTree()
					one.ShareNames(names)
					for _, a := range []struct {
						tr *Tree
						p  *symdb.Partition
					}{{shared, x.shared}, {one, x.shared}, {own, x.own}, {oneOwn, x.own}} {
						if err := mode.add(a.tr, a.p, x.values, budget); err != nil {
							t.Fatal(err)
						}
					}
					if g, w := treeDump(one), treeDump(oneOwn); !slices.Equal(g, w) {
						t.Fatalf("partition %d: %v, with its own names %v", i, g, w)
					}
				}
				if g, w := treeDump(shared), treeDump(own); !slices.Equal(g, w) {
					t.Fatalf("merged %v, with names of their own %v", g, w)
				}
				for _, fg := range []int64{0, budget} {
					if g, w := shared.FlameGraph(fg), own.FlameGraph(fg); !proto.Equal(g, w) {
						t.Errorf("flame graph (budget %d) %v, with names of their own %v", fg, g, w)
					}
					if g, w := shared.MarshalTree(fg), own.MarshalTree(fg); !bytes.Equal(g, w) {
						t.Errorf("tree bytes (budget %d) differ from those with names of their own", fg)
					}
				}
			})
		}
	}

	// They did share: one tree, smaller than the members' own together.
	first := partitionNameTree(in[0].shared, names, &nameTreeScratch{})
	sharedNodes, ownNodes := len(first.tree.nodes.Load().parent), 0
	for i, x := range in[:len(in)-1] {
		if pn := partitionNameTree(x.shared, names, &nameTreeScratch{}); pn.tree != first.tree {
			t.Errorf("partition %d has a name tree of its own", i)
		}
		ownNodes += len(partitionNameTree(x.own, nil, &nameTreeScratch{}).tree.nodes.Load().parent)
	}
	if sharedNodes*2 > ownNodes {
		t.Errorf("shared tree of %d nodes, the members' own have %d together", sharedNodes, ownNodes)
	}
}

// Partitions of one key added at once by more goroutines than cores,
// while others add the partitions already in the tree to their trees,
// make the trees that names of their own make. Run with -race.
func TestSharedNamesConcurrent(t *testing.T) {
	rng := rand.New(rand.NewPCG(43, 44))
	in := sharedInputs(blockStacks(rng, 12))
	budgets := make([]int64, len(in))
	for i := range budgets {
		budgets[i] = int64(rng.IntN(20))
	}
	build := func(tr *Tree, shared bool, first int) []string {
		for k := range in {
			i := (first + k) % len(in)
			p := in[i].own
			if shared {
				p = in[i].shared
			}
			var err error
			if i%2 == 0 {
				err = tr.AddPartitionTruncated(p, in[i].values, budgets[i])
			} else {
				leaf, _ := splitLeafValues(p, in[i].values)
				err = tr.AddLeavesTruncated(p, leaf, nil, budgets[i])
			}
			if err != nil {
				t.Error(err)
			}
		}
		return treeDump(tr)
	}
	goroutines := 4 * runtime.GOMAXPROCS(0)
	want := make([][]string, goroutines)
	for g := range want {
		want[g] = build(NewTree(), false, g)
	}
	names := NewNameTrees()
	pool := NewScratchPool(runtime.GOMAXPROCS(0))
	got := make([][]string, goroutines)
	var wg sync.WaitGroup
	for g := range got {
		wg.Go(func() {
			tr := NewTree()
			tr.ShareScratch(pool)
			tr.ShareNames(names)
			got[g] = build(tr, true, g)
		})
	}
	wg.Wait()
	for g := range got {
		if !slices.Equal(got[g], want[g]) {
			t.Errorf("goroutine %d built %v, want %v", g, got[g], want[g])
		}
	}
}

// A partition that would make its key's tree more than twice as large as
// what the stacks of a member reach starts a new tree; later partitions
// join the new one.
func TestSharedNamesGrowthBound(t *testing.T) {
	frames := func(prefix string, n int) []stackValue {
		var s []stackValue
		for i := range n {
			s = append(s, stackValue{fmt.Sprintf("%s%d", prefix, i), int64(i + 1)})
		}
		return s
	}
	// Name nodes with the root: x 11, y 12 (none of x's), z 12.
	x, xv := partitionOf(frames("a", 10)...)
	y, yv := partitionOf(frames("b", 11)...)
	z, zv := partitionOf(append(frames("a", 10), stackValue{"d", 1})...)
	x2, x2v := partitionOf(frames("a", 10)...)
	names := NewNameTrees()
	tr := NewTree()
	tr.ShareNames(names)
	var trees []*nameTree
	for _, pv := range []struct {
		p      *symdb.Partition
		values []int64
	}{{x, xv}, {y, yv}, {z, zv}, {x2, x2v}} {
		if err := tr.AddPartition(pv.p, pv.values); err != nil {
			t.Fatal(err)
		}
		trees = append(trees, partitionNameTree(pv.p, names, &nameTreeScratch{}).tree)
	}
	size := func(nt *nameTree) int { return len(nt.nodes.Load().parent) }
	// y makes 22 nodes, twice x's 11: it joins. z adds one more: it starts
	// a tree of its own, which x2 joins.
	if trees[1] != trees[0] || size(trees[0]) != 22 {
		t.Errorf("y has a tree of its own (%v), or the first tree has %d nodes, want 22", trees[1] != trees[0], size(trees[0]))
	}
	if trees[2] == trees[0] || size(trees[2]) != 12 {
		t.Errorf("z joined the full tree (%v), or its tree has %d nodes, want 12", trees[2] == trees[0], size(trees[2]))
	}
	if trees[3] != trees[2] || size(trees[2]) != 12 {
		t.Errorf("x2 is not in the current tree (%v), or it grew to %d nodes", trees[3] != trees[2], size(trees[2]))
	}
	want := treeOf(slices.Concat(frames("a", 10), frames("b", 11), frames("a", 10), []stackValue{{"d", 1}}, frames("a", 10))...)
	if g, w := treeDump(tr), treeDump(want); !slices.Equal(g, w) {
		t.Errorf("tree %v, want %v", g, w)
	}
}

// A shared tree lives as long as one of its partitions does: the
// NameTrees does not keep it.
func TestNameTreesHoldTreesWeakly(t *testing.T) {
	names := NewNameTrees()
	// Made in a function of their own, so that nothing on this stack
	// refers to the partitions but a and b.
	add := func(p *symdb.Partition, values []int64) weak.Pointer[nameTree] {
		tr := NewTree()
		tr.ShareNames(names)
		if err := tr.AddPartition(p, values); err != nil {
			t.Fatal(err)
		}
		return weak.Make(partitionNameTree(p, names, &nameTreeScratch{}).tree)
	}
	a, av := partitionOf(stackValue{"main;a", 1}, stackValue{"main;b", 2})
	b, bv := partitionOf(stackValue{"main;a", 1}, stackValue{"main;c", 2})
	wa, wb := add(a, av), add(b, bv)
	if wa != wb {
		t.Fatal("the partitions do not share a tree")
	}
	if names.current[0] != wa {
		t.Fatal("the tree is not the key's current one")
	}

	runtime.GC()
	if wa.Value() == nil {
		t.Fatal("a tree two partitions use was collected")
	}
	runtime.KeepAlive(a)
	b = nil
	runtime.GC()
	if wa.Value() == nil {
		t.Fatal("a tree a partition uses was collected")
	}
	runtime.KeepAlive(a)
	a = nil
	runtime.GC()
	if wa.Value() != nil {
		t.Fatal("a tree none of whose partitions is left was not collected")
	}

	// The key starts a new tree.
	c, cv := partitionOf(stackValue{"main;a", 1})
	if wc := add(c, cv); wc == wa || wc.Value() == nil {
		t.Error("a partition of the key did not start a new tree")
	}
	// The keys of gone trees are dropped once they might outnumber the
	// others: a key whose service went leaves no entry for good.
	for key := range uint64(300) {
		names.tree(key+1, nil)
		runtime.GC()
	}
	if n := len(names.current); n > 64 {
		t.Errorf("%d keys kept, all but one of whose trees were collected", n)
	}
	if names.current[0].Value() == nil {
		t.Error("the key of a live tree was dropped")
	}
	runtime.KeepAlive(c)
}

// On the bench bucket, the four blocks' partitions of each service share a
// name tree: the names they keep take well under half the memory of trees
// of their own, and a flame graph of them all is the same either way.
func TestSharedNamesBenchBucket(t *testing.T) {
	if testing.Short() {
		t.Skip("loads the bench bucket")
	}
	shared, own := benchBucketBlocks(t, 4), benchBucketBlocks(t, 4)
	names := NewNameTrees()
	sharedTree, ownTree := NewTree(), NewTree()
	sharedTree.ShareNames(names)
	var sharedBytes, ownBytes int64
	trees := map[*nameTree]bool{}
	for b := range shared {
		for i, p := range shared[b] {
			q := own[b][i]
			// Values on every leaf, cut as a store cuts each partition.
			leaf := make([]int64, p.Leaves().Count)
			for k := range leaf {
				leaf[k] = 1 + int64(k%7)
			}
			if err := sharedTree.AddLeavesTruncated(p, leaf, nil, DefaultMaxNodes); err != nil {
				t.Fatal(err)
			}
			if err := ownTree.AddLeavesTruncated(q, leaf, nil, DefaultMaxNodes); err != nil {
				t.Fatal(err)
			}
			pn := partitionNameTree(p, names, &nameTreeScratch{})
			trees[pn.tree] = true
			sharedBytes += pn.SizeBytes()
			ownBytes += partitionNameTree(q, nil, &nameTreeScratch{}).SizeBytes()
		}
	}
	t.Logf("%d partitions' names: %.1f MB in %d shared trees, %.1f MB in trees of their own",
		len(shared)*len(shared[0]), float64(sharedBytes)/1e6, len(trees), float64(ownBytes)/1e6)
	if len(trees) != len(shared[0]) {
		t.Errorf("%d shared trees for %d services", len(trees), len(shared[0]))
	}
	// The trees the partitions are charged for are all there is.
	var treeBytes int64
	for nt := range trees {
		treeBytes += int64(unsafe.Sizeof(*nt)) + nt.nodes.Load().sizeBytes()
	}
	for b := range shared {
		for _, p := range shared[b] {
			pn := partitionNameTree(p, names, &nameTreeScratch{})
			treeBytes += int64(unsafe.Sizeof(*pn)) + sliceBytes(pn.leafName)
		}
	}
	if treeBytes != sharedBytes {
		t.Errorf("partitions charged %d bytes for names that hold %d", sharedBytes, treeBytes)
	}
	if sharedBytes*2 > ownBytes {
		t.Errorf("shared names take %d bytes, not under half of %d", sharedBytes, ownBytes)
	}
	if g, w := sharedTree.FlameGraph(DefaultMaxNodes), ownTree.FlameGraph(DefaultMaxNodes); !proto.Equal(g, w) {
		t.Error("the flame graph with shared names differs")
	}
	// Tree bytes list every node; a dump of the tree's stacks takes seconds.
	if g, w := sharedTree.MarshalTree(0), ownTree.MarshalTree(0); !bytes.Equal(g, w) {
		t.Errorf("tree with shared names of %d nodes, with names of their own %d", sharedTree.Len(), ownTree.Len())
	}
}

// A shared tree whose names outgrow 16 bits when a partition joins keeps
// them in 32 from then on; the members already in it, and trees that
// interned their names before, still give the trees they did.
func TestSharedNamesOutgrow16Bits(t *testing.T) {
	stacks := func(from, to int) []stackValue {
		var s []stackValue
		for k := from; k < to; k++ {
			s = append(s, stackValue{fmt.Sprintf("main;f%d", k), int64(1 + k%5)})
		}
		return s
	}
	first, firstValues := partitionOf(stacks(0, 60000)...)
	second, secondValues := partitionOf(stacks(5000, 70000)...)
	names := NewNameTrees()
	tr := NewTree()
	tr.ShareNames(names)
	if err := tr.AddPartitionTruncated(first, firstValues, 100); err != nil {
		t.Fatal(err)
	}
	pn := partitionNameTree(first, names, &nameTreeScratch{})
	before := pn.tree.nodes.Load()
	if before.name16 == nil {
		t.Fatal("60000 names not in 16 bits")
	}
	if err := tr.AddPartitionTruncated(second, secondValues, 100); err != nil {
		t.Fatal(err)
	}
	if err := tr.AddPartitionTruncated(first, firstValues, 0); err != nil {
		t.Fatal(err)
	}
	if partitionNameTree(second, names, &nameTreeScratch{}).tree != pn.tree {
		t.Fatal("the second partition has a tree of its own")
	}
	after := pn.tree.nodes.Load()
	if after.name32 == nil || len(after.names) != 70000+1 {
		t.Errorf("%d names, in 32 bits %v; want 70001 in 32 bits", len(after.names), after.name32 != nil)
	}
	if before.name16 == nil || len(before.parent) != 60002 {
		t.Error("the state readers held changed")
	}
	// The reference adds partitions of its own, with names of their own.
	firstRef, _ := partitionOf(stacks(0, 60000)...)
	secondRef, _ := partitionOf(stacks(5000, 70000)...)
	want := truncatedPartitionRef(t, firstRef, firstValues, 100)
	want.Merge(truncatedPartitionRef(t, secondRef, secondValues, 100))
	want.Merge(treeOf(stacks(0, 60000)...))
	if g, w := treeDump(tr), treeDump(want); !slices.Equal(g, w) {
		t.Errorf("tree of %d nodes, want %d", len(g), len(w))
	}
}

// Prepare makes a partition's shared names once, and a Tree that shares
// the NameTrees then adds the partition through those very names, with
// the result that names of its own give.
func TestNameTreesPrepare(t *testing.T) {
	rng := rand.New(rand.NewPCG(43, 44))
	in := sharedInputs(blockStacks(rng, 3))
	names := NewNameTrees()
	shared, own := NewTree(), NewTree()
	shared.ShareNames(names)
	for i, x := range in {
		names.Prepare(x.shared)
		pn := x.shared.Derived(nameTreeKey{}, func() any {
			t.Fatalf("partition %d: Prepare made no names", i)
			return nil
		}).(*partitionNames)
		names.Prepare(x.shared)
		if again := partitionNameTree(x.shared, names, &nameTreeScratch{}); again != pn {
			t.Errorf("partition %d: names made again after Prepare", i)
		}
		leaf, inner := splitLeafValues(x.shared, x.values)
		if err := shared.AddLeavesTruncated(x.shared, leaf, inner, 12); err != nil {
			t.Fatal(err)
		}
		leaf, inner = splitLeafValues(x.own, x.values)
		if err := own.AddLeavesTruncated(x.own, leaf, inner, 12); err != nil {
			t.Fatal(err)
		}
	}
	if g, w := treeDump(shared), treeDump(own); !slices.Equal(g, w) {
		t.Fatalf("prepared %v, with names of their own %v", g, w)
	}
	if first := partitionNameTree(in[0].shared, names, &nameTreeScratch{}); partitionNameTree(in[1].shared, names, &nameTreeScratch{}).tree != first.tree {
		t.Error("prepared partitions of a key do not share a name tree")
	}
}
