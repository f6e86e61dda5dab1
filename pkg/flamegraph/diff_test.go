package flamegraph

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestNewDiff(t *testing.T) {
	tests := []struct {
		name                 string
		left, right          *Tree
		maxNodes             int64
		names                []string
		levels               [][]int64
		total, maxSelf       int64
		leftTicks, rightTick int64
	}{
		{
			name:     "worked example",
			left:     treeOf(stackValue{"main;a", 10}, stackValue{"main;b", 2}),
			right:    treeOf(stackValue{"main;a", 3}, stackValue{"main;c", 7}),
			maxNodes: 8192,
			names:    []string{"total", "main", "c", "b", "a"},
			levels: [][]int64{
				{0, 12, 0, 0, 10, 0, 0},
				{0, 12, 0, 0, 10, 0, 1},
				{0, 10, 10, 0, 3, 3, 4, 0, 2, 2, 0, 0, 0, 3, 0, 0, 0, 0, 7, 7, 2},
			},
			total: 22, maxSelf: 10, leftTicks: 12, rightTick: 10,
		},
		{
			name:   "empty",
			left:   NewTree(),
			right:  nil,
			names:  []string{"total"},
			levels: [][]int64{{0, 0, 0, 0, 0, 0, 0}},
		},
		{
			// Aligned nodes: root, main, a, b, c (5). With k = 3 the
			// budget includes the root: max totals 12, 12, 10, 7, 2 →
			// minTotal 10, so b and c fold into "other" on each side.
			name:     "truncated",
			left:     treeOf(stackValue{"main;a", 10}, stackValue{"main;b", 2}),
			right:    treeOf(stackValue{"main;a", 3}, stackValue{"main;c", 7}),
			maxNodes: 3,
			names:    []string{"total", "main", "other", "a"},
			levels: [][]int64{
				{0, 12, 0, 0, 10, 0, 0},
				{0, 12, 0, 0, 10, 0, 1},
				{0, 10, 10, 0, 3, 3, 3, 0, 2, 2, 0, 7, 7, 2},
			},
			total: 22, maxSelf: 10, leftTicks: 12, rightTick: 10,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDiff(tc.left, tc.right, tc.maxNodes)
			if !slices.Equal(d.Names, tc.names) {
				t.Errorf("names = %q, want %q", d.Names, tc.names)
			}
			if got := levelValues(d.Levels); fmt.Sprint(got) != fmt.Sprint(tc.levels) {
				t.Errorf("levels = %v, want %v", got, tc.levels)
			}
			if d.Total != tc.total || d.MaxSelf != tc.maxSelf || d.LeftTicks != tc.leftTicks || d.RightTicks != tc.rightTick {
				t.Errorf("total %d maxSelf %d left %d right %d, want %d %d %d %d",
					d.Total, d.MaxSelf, d.LeftTicks, d.RightTicks, tc.total, tc.maxSelf, tc.leftTicks, tc.rightTick)
			}
		})
	}
}

func TestNewDiffRoundTripProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for i := range 200 {
		left, lsum := randomTree(rng, rng.IntN(40), 1+rng.IntN(6), 1+rng.IntN(10))
		right, rsum := randomTree(rng, rng.IntN(40), 1+rng.IntN(6), 1+rng.IntN(10))
		d := NewDiff(left, right, 0)
		if d.LeftTicks != lsum || d.RightTicks != rsum || d.Total != lsum+rsum {
			t.Fatalf("case %d: ticks %d/%d total %d, want %d/%d", i, d.LeftTicks, d.RightTicks, d.Total, lsum, rsum)
		}
		levels := levelValues(d.Levels)
		for side, want := range []*Tree{left, right} {
			got := treeFromLevels(rebuildLevels(t, d.Names, levels, 7, 3*side, true))
			if g, w := treeDump(got), treeDump(want); !slices.Equal(g, w) {
				t.Fatalf("case %d side %d: rebuilt tree differs:\n%v\nwant\n%v", i, side, g, w)
			}
		}
	}
}
