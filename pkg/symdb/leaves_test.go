package symdb

import (
	"math/rand/v2"
	"testing"
)

// TestLeafIndex checks leaf numbers against a direct count of the nodes
// without children, on random trees of sizes around word boundaries.
func TestLeafIndex(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{0, 1, 2, 63, 64, 65, 127, 128, 129, 1000} {
		parents := make([]int32, n)
		for i := range parents {
			if i == 0 || rng.IntN(20) == 0 {
				parents[i] = -1 // a chunk root
			} else {
				parents[i] = int32(rng.IntN(i))
			}
		}
		hasChild := make([]bool, n)
		for _, par := range parents {
			if par >= 0 {
				hasChild[par] = true
			}
		}
		ix := NewLeafIndex(parents)
		next := 0
		for i := range parents {
			got, ok := ix.Leaf(int32(i))
			if ok != !hasChild[i] {
				t.Fatalf("%d nodes: node %d is a leaf: %v, want %v", n, i, ok, !hasChild[i])
			}
			if ok {
				if got != next {
					t.Fatalf("%d nodes: node %d is leaf %d, want %d", n, i, got, next)
				}
				next++
			}
		}
		if ix.Count != next {
			t.Errorf("%d nodes: Count %d, want %d", n, ix.Count, next)
		}
		visited := 0
		for k, node := range ix.All() {
			if got, ok := ix.Leaf(node); !ok || got != k || k != visited {
				t.Fatalf("%d nodes: All yields leaf %d at node %d, %d-th; Leaf says %d, %v", n, k, node, visited, got, ok)
			}
			visited++
		}
		if visited != ix.Count {
			t.Errorf("%d nodes: All yields %d leaves, want %d", n, visited, ix.Count)
		}
	}
}
