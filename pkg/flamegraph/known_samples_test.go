package flamegraph

import (
	"math/rand/v2"
	"testing"
)

// TestKnownSamples adds samples to a knownSamples in rounds, in shuffled
// lists as shards find them, and checks every node against a plain array
// after each round: the samples known before must keep their nodes.
func TestKnownSamples(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, nodes := range []int{0, 1, 63, 64, 65, 1000, 4096} {
		ks := newKnownSamples(nodes)
		want := make([]int32, nodes)
		for i := range want {
			want[i] = -1
		}
		for round := range 6 {
			// Rounds learn few nodes, then most of the rest, then none.
			share := []int{20, 3, 2, 1, 1, 0}[round]
			lists := make([][]nodeSample, 1+rng.IntN(3))
			for _, i := range rng.Perm(nodes) {
				if want[i] >= 0 || share == 0 || rng.IntN(share) != 0 {
					continue
				}
				want[i] = rng.Int32N(1 << 30)
				k := rng.IntN(len(lists))
				lists[k] = append(lists[k], nodeSample{node: int32(i), sample: want[i]})
			}
			ks.add(lists)
			known := 0
			for i, w := range want {
				if got := ks.get(int32(i)); got != w {
					t.Fatalf("%d nodes, round %d: node %d has sample %d, want %d", nodes, round, i, got, w)
				}
				if w >= 0 {
					known++
				}
			}
			if len(ks.samples) != known {
				t.Fatalf("%d nodes, round %d: %d samples kept for %d known nodes", nodes, round, len(ks.samples), known)
			}
		}
	}
}
