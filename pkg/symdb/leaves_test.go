package symdb

import (
	"math/rand/v2"
	"testing"
)

// TestLeafIndex checks leaf numbers against a direct count of the nodes
// without children, on random trees of sizes around word boundaries.
func TestLeafIndex(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, ts := range treeShapes {
		sizes := []int{0, 1, 2, 63, 64, 65, 127, 128, 129, 1000}
		if ts.shape.farJump {
			sizes = []int{150000}
		}
		for _, n := range sizes {
			parents, locs := randomTree(rng, n, ts.shape)
			testLeafIndex(t, ts.name, parents, locs)
		}
	}
}

func testLeafIndex(t *testing.T, shape string, parents, locs []int32) {
	t.Helper()
	n := len(parents)
	hasChild := make([]bool, n)
	for _, par := range parents {
		if par >= 0 {
			hasChild[par] = true
		}
	}
	tree := MustStackTree(parents, locs)
	ix := NewLeafIndex(&tree)
	next := 0
	for i := range parents {
		got, ok := ix.Leaf(int32(i))
		if ok != !hasChild[i] {
			t.Fatalf("%s, %d nodes: node %d is a leaf: %v, want %v", shape, n, i, ok, !hasChild[i])
		}
		if ok {
			if got != next {
				t.Fatalf("%s, %d nodes: node %d is leaf %d, want %d", shape, n, i, got, next)
			}
			next++
		}
	}
	if ix.Count != next {
		t.Errorf("%s, %d nodes: Count %d, want %d", shape, n, ix.Count, next)
	}
	visited := 0
	for k, node := range ix.All() {
		if got, ok := ix.Leaf(node); !ok || got != k || k != visited {
			t.Fatalf("%s, %d nodes: All yields leaf %d at node %d, %d-th; Leaf says %d, %v", shape, n, k, node, visited, got, ok)
		}
		visited++
	}
	if visited != ix.Count {
		t.Errorf("%s, %d nodes: All yields %d leaves, want %d", shape, n, visited, ix.Count)
	}
}
