package flamegraph

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/cinder-profiling/cinder/pkg/symdb"
)

// Values on leaves, summed per segment of the name tree, make the tree
// that the same values per node make, whole and cut to any budget: with
// leaves on name nodes that have children (a function of two locations),
// name trees shared by partitions that split each other's segments, and
// totals that tie at the cut.
func TestLeafSegmentsMatchNodes(t *testing.T) {
	rng := rand.New(rand.NewPCG(51, 52))
	budgets := []int64{0, 1, 2, 3, 5, 8, 13, 21, 34, 55, 1000}
	innerLeaves := 0
	for round := range 25 {
		names := NewNameTrees()
		var parts []*symdb.Partition
		var nodeValues, leafValues [][]int64
		for _, stacks := range blockStacks(rng, 3) {
			p, values := partitionWithLocations(stacks, 2, func() int { return rng.IntN(2) })
			// Values on leaves only, few distinct ones so that totals tie,
			// and some zero.
			leaves := p.Leaves()
			for i := range values {
				values[i] = 0
				if _, ok := leaves.Leaf(int32(i)); ok {
					values[i] = int64(rng.IntN(4))
				}
			}
			leaf, inner := splitLeafValues(p, values)
			if inner != nil {
				t.Fatal("values on a partition's inner node")
			}
			parts, nodeValues, leafValues = append(parts, p), append(nodeValues, values), append(leafValues, leaf)
		}
		for _, budget := range budgets {
			wantAll, gotAll := NewTree(), NewTree()
			wantAll.ShareNames(names)
			gotAll.ShareNames(names)
			for i, p := range parts {
				want, got := NewTree(), NewTree()
				want.ShareNames(names)
				got.ShareNames(names)
				for _, add := range []func() error{
					func() error { return want.AddPartitionTruncated(p, nodeValues[i], budget) },
					func() error { return wantAll.AddPartitionTruncated(p, nodeValues[i], budget) },
					func() error { return got.AddLeavesTruncated(p, leafValues[i], nil, budget) },
					func() error { return gotAll.AddLeavesTruncated(p, leafValues[i], nil, budget) },
				} {
					if err := add(); err != nil {
						t.Fatal(err)
					}
				}
				if g, w := treeDump(got), treeDump(want); !slices.Equal(g, w) {
					t.Fatalf("round %d, partition %d, budget %d: per segment %v, per node %v", round, i, budget, g, w)
				}
			}
			if g, w := treeDump(gotAll), treeDump(wantAll); !slices.Equal(g, w) {
				t.Fatalf("round %d, budget %d, all partitions: per segment %v, per node %v", round, budget, g, w)
			}
		}
		for i, p := range parts {
			pn := partitionNameTree(p, names, &nameTreeScratch{})
			nt := pn.tree.nodes.Load()
			for k, j := range pn.leafName {
				if _, last := nt.segments.of(j); leafValues[i][k] > 0 && j != 0 && !last {
					innerLeaves++
				}
			}
		}
	}
	if innerLeaves == 0 {
		t.Fatal("no leaf value sat on a name node that ends no segment")
	}
}

// Segments are the maximal chains of nodes that each have the next as
// their only child, the root on its own.
func TestNameSegments(t *testing.T) {
	rng := rand.New(rand.NewPCG(53, 54))
	for round := range 200 {
		m := 1 + rng.IntN(300)
		parent := []int32{-1}
		for j := 1; j < m; j++ {
			p := int32(j - 1)
			if rng.IntN(3) == 0 {
				p = int32(rng.IntN(j))
			}
			parent = append(parent, p)
		}
		kids := make([]int, m)
		for j := 1; j < m; j++ {
			kids[parent[j]]++
		}
		sg := newNameSegments(parent)
		if sg.start[0] != 0 || sg.start[len(sg.start)-1] != int32(m) || sg.parent[0] != -1 {
			t.Fatalf("round %d: starts %v, parents %v", round, sg.start, sg.parent)
		}
		seg := int32(-1)
		for j := range int32(m) {
			chained := j > 1 && parent[j] == j-1 && kids[j-1] == 1
			if !chained {
				seg++
				if sg.start[seg] != j {
					t.Fatalf("round %d: segment %d starts at %d, want %d", round, seg, sg.start[seg], j)
				}
				if j > 0 {
					if ps, last := sg.of(parent[j]); ps != sg.parent[seg] || !last {
						t.Fatalf("round %d: segment %d hangs from node %d of segment %d (last %v), recorded %d", round, seg, parent[j], ps, last, sg.parent[seg])
					}
				}
			}
			s, last := sg.of(j)
			wantLast := j == int32(m-1) || !(j >= 1 && parent[j+1] == j && kids[j] == 1)
			if s != seg || last != wantLast {
				t.Fatalf("round %d: node %d in segment %d (last %v), want %d (%v)", round, j, s, last, seg, wantLast)
			}
		}
		if got := int32(sg.count()) - 1; got != seg {
			t.Fatalf("round %d: %d segments, want %d", round, got+1, seg+1)
		}

		// Grown in steps, as a name tree grows, the segments are those
		// of the whole.
		var grown *nameSegments
		for at := 0; at < m; {
			at = min(m, at+1+rng.IntN(40))
			g := growSegments(grown, parent[:at])
			if w := newNameSegments(parent[:at]); !slices.Equal(g.start, w.start) || !slices.Equal(g.parent, w.parent) || !slices.Equal(g.first, w.first) {
				t.Fatalf("round %d: grown to %d nodes, segments start %v with parents %v, want %v with %v", round, at, g.start, g.parent, w.start, w.parent)
			}
			grown = &g
		}
	}
}

// The k-th largest of values given with their multiplicities is that of
// the values spelled out.
func TestKthLargestWeighted(t *testing.T) {
	rng := rand.New(rand.NewPCG(55, 56))
	for round := range 500 {
		var vals, all []int64
		var weights []int32
		for range 1 + rng.IntN(40) {
			v := int64(rng.IntN(6))
			if rng.IntN(4) == 0 {
				v = rng.Int64N(1 << 40)
			}
			w := 1 + rng.IntN(5)
			vals, weights = append(vals, v), append(weights, int32(w))
			for range w {
				all = append(all, v)
			}
		}
		slices.Sort(all)
		slices.Reverse(all)
		k := 1 + rng.IntN(len(all))
		if got := kthLargestWeighted(slices.Clone(vals), slices.Clone(weights), int64(k)); got != all[k-1] {
			t.Fatalf("round %d: k=%d of %v: %d, want %d", round, k, all, got, all[k-1])
		}
	}
}
