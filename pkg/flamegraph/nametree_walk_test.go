package flamegraph

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/cinder-profiling/cinder/pkg/symdb"
)

// breadthFirst returns p with its nodes renumbered breadth first, so that
// a node's first child rarely comes right after it, as it does in the
// depth-first order that walk's index favours.
func breadthFirst(p *symdb.Partition) *symdb.Partition {
	n := p.Tree.Len()
	kids := make([][]int32, n)
	var roots []int32
	for i := range int32(n) {
		if par := p.Tree.Parent(i); par < 0 {
			roots = append(roots, i)
		} else {
			kids[par] = append(kids[par], i)
		}
	}
	order := slices.Clone(roots)
	for k := 0; k < len(order); k++ {
		order = append(order, kids[order[k]]...)
	}
	newID := make([]int32, n)
	for k, i := range order {
		newID[i] = int32(k)
	}
	parents, locs := make([]int32, n), make([]int32, n)
	for k, i := range order {
		parents[k] = -1
		if par := p.Tree.Parent(i); par >= 0 {
			parents[k] = newID[par]
		}
		locs[k] = p.Tree.Location(i)
	}
	return &symdb.Partition{
		Key:       p.Key,
		Tree:      symdb.MustStackTree(parents, locs),
		Locations: p.Locations,
		Functions: p.Functions,
		Mappings:  p.Mappings,
		Strings:   p.Strings,
	}
}

// stackNames returns the function names of the stack ending at node i of
// p, outermost first, joined by ';'.
func stackNames(p *symdb.Partition, i int32) string {
	var frames []string
	for ; i >= 0 && p.Tree.Parent(i) >= 0; i = p.Tree.Parent(i) {
		for _, l := range p.Locations[p.Tree.Location(i)].Lines {
			frames = append(frames, p.Strings[p.Functions[l.FunctionID].Name])
		}
	}
	slices.Reverse(frames)
	return strings.Join(frames, ";")
}

// nodeNames returns the names on the path to name node j, joined by ';'.
func nodeNames(nn *nameNodes, j int32) string {
	var frames []string
	for ; j > 0; j = nn.parent[j] {
		frames = append(frames, nn.names[nn.nameOf(j)])
	}
	slices.Reverse(frames)
	return strings.Join(frames, ";")
}

// Partitions in depth-first and breadth-first order, some with inlined and
// line-less locations, make one name tree: no two nodes of it are the same
// child of a parent, and a walk over it finds every node of every member
// at the node named as the node's stack.
func TestNameTreeWalkFindsEveryStack(t *testing.T) {
	for seed := range uint64(6) {
		rng := rand.New(rand.NewPCG(seed, 7))
		var blocks []*symdb.Partition
		for b, stacks := range blockStacks(rng, 4) {
			// Two lines of each function, a frame taking either: siblings
			// of one name, which the name tree merges.
			p, _ := partitionWithLocations(stacks, 2, func() int { return rng.IntN(2) })
			if b%2 == 1 {
				p = breadthFirst(p)
			}
			blocks = append(blocks, p)
		}
		hand, _ := handPartition()
		for _, parts := range [][]*symdb.Partition{blocks, {hand, breadthFirst(hand)}} {
			checkNameTreeWalk(t, seed, parts)
		}
	}
}

func checkNameTreeWalk(t *testing.T, seed uint64, parts []*symdb.Partition) {
	t.Helper()
	nt := newNameTree(true)
	var sc nameTreeScratch
	for k, p := range parts {
		if nt.add(p, p.Leaves(), &sc) == nil {
			t.Fatalf("seed %d: partition %d did not fit the tree", seed, k)
		}
	}
	nn := nt.nodes.Load()
	seen := map[[2]int32]int32{}
	for j := int32(1); j < int32(len(nn.parent)); j++ {
		key := [2]int32{nn.parent[j], nn.nameOf(j)}
		if d, ok := seen[key]; ok {
			t.Fatalf("seed %d: nodes %d and %d are both child %q of node %d", seed, d, j, nn.names[key[1]], key[0])
		}
		seen[key] = j
	}
	for k, p := range parts {
		sc.walk(p, nn)
		if len(sc.parent) != 0 {
			t.Fatalf("seed %d, partition %d: %d of its nodes missing from the tree", seed, k, len(sc.parent))
		}
		for i := range int32(p.Tree.Len()) {
			if g, w := nodeNames(nn, sc.nodeOf[i]), stackNames(p, i); g != w {
				t.Fatalf("seed %d, partition %d, node %d: at %q, want %q", seed, k, i, g, w)
			}
		}
	}
}
