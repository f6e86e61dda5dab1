package flamegraph

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"

	querierv1 "github.com/cinder-profiling/cinder/proto/querier/v1"
)

// stackValue is one stack of the worked examples, root first.
type stackValue struct {
	stack string // names joined by ';'
	value int64
}

func treeOf(stacks ...stackValue) *Tree {
	t := NewTree()
	for _, s := range stacks {
		t.InsertStack(s.value, strings.Split(s.stack, ";")...)
	}
	return t
}

// workedExample is the tree of api.md §6.5.2.
func workedExample() *Tree {
	return treeOf(
		stackValue{"main;a;x", 10},
		stackValue{"main;a", 5},
		stackValue{"main;b", 3},
		stackValue{"main;c", 1},
		stackValue{"main", 2},
		stackValue{"init", 4},
	)
}

func levelValues(levels []*querierv1.Level) [][]int64 {
	out := make([][]int64, len(levels))
	for i, l := range levels {
		out[i] = l.GetValues()
	}
	return out
}

func TestFlameGraphWorkedExamples(t *testing.T) {
	tests := []struct {
		name     string
		maxNodes int64
		names    []string
		levels   [][]int64
		total    int64
		maxSelf  int64
	}{
		{
			name:     "no truncation",
			maxNodes: 0,
			names:    []string{"total", "main", "c", "b", "a", "x", "init"},
			levels: [][]int64{
				{0, 25, 0, 0},
				{0, 4, 4, 6, 0, 21, 2, 1},
				{6, 15, 5, 4, 0, 3, 3, 3, 0, 1, 1, 2},
				{11, 10, 10, 5},
			},
			total:   25,
			maxSelf: 10,
		},
		{
			name:     "budget above node count",
			maxNodes: 7,
			names:    []string{"total", "main", "c", "b", "a", "x", "init"},
			levels: [][]int64{
				{0, 25, 0, 0},
				{0, 4, 4, 6, 0, 21, 2, 1},
				{6, 15, 5, 4, 0, 3, 3, 3, 0, 1, 1, 2},
				{11, 10, 10, 5},
			},
			total:   25,
			maxSelf: 10,
		},
		{
			name:     "k=3",
			maxNodes: 3,
			names:    []string{"total", "other", "main", "a", "x"},
			levels: [][]int64{
				{0, 25, 0, 0},
				{0, 21, 2, 2, 0, 4, 4, 1},
				{2, 15, 5, 3, 0, 4, 4, 1},
				{7, 10, 10, 4},
			},
			total:   25,
			maxSelf: 10,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fg := workedExample().FlameGraph(tc.maxNodes)
			if !slices.Equal(fg.Names, tc.names) {
				t.Errorf("names = %q, want %q", fg.Names, tc.names)
			}
			if got := levelValues(fg.Levels); fmt.Sprint(got) != fmt.Sprint(tc.levels) {
				t.Errorf("levels = %v, want %v", got, tc.levels)
			}
			if fg.Total != tc.total || fg.MaxSelf != tc.maxSelf {
				t.Errorf("total, maxSelf = %d, %d, want %d, %d", fg.Total, fg.MaxSelf, tc.total, tc.maxSelf)
			}
		})
	}
}

func TestFlameGraphEmpty(t *testing.T) {
	for _, tr := range []*Tree{NewTree(), {}, treeOf(stackValue{"a", 0}, stackValue{"b", -3})} {
		fg := tr.FlameGraph(DefaultMaxNodes)
		if !slices.Equal(fg.Names, []string{"total"}) || fmt.Sprint(levelValues(fg.Levels)) != "[[0 0 0 0]]" ||
			fg.Total != 0 || fg.MaxSelf != 0 {
			t.Errorf("empty flame graph = %v %v %d %d", fg.Names, levelValues(fg.Levels), fg.Total, fg.MaxSelf)
		}
	}
}

func TestFlameGraphNameEdgeCases(t *testing.T) {
	// A function named "total" shares index 0; functions named "other" are
	// always folded into the rightmost synthetic node.
	tr := treeOf(
		stackValue{"total;a", 3},
		stackValue{"other;b", 2},
		stackValue{"z", 1},
	)
	fg := tr.FlameGraph(0)
	wantNames := []string{"total", "other", "z", "a"}
	if !slices.Equal(fg.Names, wantNames) {
		t.Errorf("names = %q, want %q", fg.Names, wantNames)
	}
	want := [][]int64{
		{0, 6, 0, 0},
		{0, 3, 0, 0, 0, 1, 1, 2, 0, 2, 2, 1},
		{0, 3, 3, 3},
	}
	if got := levelValues(fg.Levels); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("levels = %v, want %v", got, want)
	}
}

func TestResolveMaxNodes(t *testing.T) {
	tests := []struct {
		requested int64
		want      int64
		err       string
	}{
		{0, 8192, ""},
		{1, 1, ""},
		{16, 16, ""},
		{1048576, 1048576, ""},
		{1048577, 0, "max flamegraph nodes limit 1048577 is greater than allowed 1048576"},
		{2000000, 0, "max flamegraph nodes limit 2000000 is greater than allowed 1048576"},
		{-1, 0, "max flamegraph nodes limit must be set (max allowed 1048576)"},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.requested), func(t *testing.T) {
			got, err := ResolveMaxNodes(tc.requested)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err || !errors.Is(err, ErrInvalidMaxNodes) {
					t.Fatalf("err = %v, want %q wrapping ErrInvalidMaxNodes", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ResolveMaxNodes(%d) = %d, %v, want %d", tc.requested, got, err, tc.want)
			}
		})
	}
	if got, err := (NodeBudget{Default: 2048}).Resolve(-5); err != nil || got != -5 {
		t.Errorf("unlimited budget: %d, %v", got, err)
	}
}

// treeDump lists every node as "path self total", sorted: two trees are
// equal as trees when their dumps are equal.
func treeDump(tr *Tree) []string {
	tr.computeTotals()
	var out []string
	path := make([]string, 0, 16)
	for i := 1; i < len(tr.parent); i++ {
		path = path[:0]
		for n := int32(i); n > 0; n = tr.parent[n] {
			path = append(path, tr.names[tr.name[n]])
		}
		slices.Reverse(path)
		out = append(out, fmt.Sprintf("%s %d %d", strings.Join(path, ";"), tr.self[i], tr.total[i]))
	}
	sort.Strings(out)
	return out
}

// flameNode is a node of a flame graph with absolute x, as Grafana rebuilds it.
type flameNode struct {
	x, total, self int64
	name           string
	parent         int // index into the previous level, -1 for the root
}

// rebuildLevels decodes levels of width w (4, or 7 for a diff side read
// at offset off) and attaches each node to the parent on the level above
// whose [x, x+total) contains it, as Grafana does. Zero-width nodes are
// skipped when skipZero is set (diff fillers).
func rebuildLevels(t testing.TB, names []string, levels [][]int64, w, off int, skipZero bool) [][]flameNode {
	t.Helper()
	out := make([][]flameNode, len(levels))
	for li, vals := range levels {
		var prevEnd int64
		for j := 0; j+w <= len(vals); j += w {
			x := prevEnd + vals[j+off]
			total, self := vals[j+off+1], vals[j+off+2]
			prevEnd = x + total
			if skipZero && total == 0 && li > 0 {
				continue
			}
			out[li] = append(out[li], flameNode{x: x, total: total, self: self, name: names[vals[j+w-1]], parent: -1})
		}
	}
	for li := 1; li < len(out); li++ {
		p := 0
		for ni := range out[li] {
			n := &out[li][ni]
			for p < len(out[li-1]) && out[li-1][p].x+out[li-1][p].total <= n.x {
				p++
			}
			if p == len(out[li-1]) || n.x < out[li-1][p].x {
				t.Fatalf("level %d node %d (%s at %d) has no parent", li, ni, n.name, n.x)
			}
			n.parent = p
		}
	}
	return out
}

// treeFromLevels re-inserts a rebuilt flame graph into a fresh Tree, self
// values as stack values.
func treeFromLevels(nodes [][]flameNode) *Tree {
	tr := NewTree()
	var stack []string
	for li := 1; li < len(nodes); li++ {
		for ni, n := range nodes[li] {
			if n.self <= 0 {
				continue
			}
			stack = stack[:0]
			l, i := li, ni
			for l > 0 {
				stack = append(stack, nodes[l][i].name)
				i = nodes[l][i].parent
				l--
			}
			slices.Reverse(stack)
			tr.InsertStack(n.self, stack...)
		}
	}
	return tr
}

func randomTree(rng *rand.Rand, stacks, depth, names int) (*Tree, int64) {
	tr := NewTree()
	var sum int64
	frames := make([]string, 0, depth)
	for range stacks {
		frames = frames[:0]
		d := 1 + rng.IntN(depth)
		for range d {
			frames = append(frames, fmt.Sprintf("f%d", rng.IntN(names)))
		}
		v := int64(rng.IntN(100)) - 10 // some values ≤ 0 are skipped
		tr.InsertStack(v, frames...)
		if v > 0 {
			sum += v
		}
	}
	return tr, sum
}

func TestFlameGraphRoundTripProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 200 {
		tr, sum := randomTree(rng, 1+rng.IntN(60), 1+rng.IntN(8), 1+rng.IntN(12))
		fg := tr.FlameGraph(0)
		if fg.Total != sum || tr.Total() != sum {
			t.Fatalf("case %d: total %d / %d, want %d", i, fg.Total, tr.Total(), sum)
		}
		rebuilt := treeFromLevels(rebuildLevels(t, fg.Names, levelValues(fg.Levels), 4, 0, false))
		if got, want := treeDump(rebuilt), treeDump(tr); !slices.Equal(got, want) {
			t.Fatalf("case %d: rebuilt tree differs:\n%v\nwant\n%v", i, got, want)
		}
	}
}

func TestFlameGraphTruncationProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 300 {
		tr, sum := randomTree(rng, 1+rng.IntN(80), 1+rng.IntN(8), 1+rng.IntN(6))
		k := int64(1 + rng.IntN(tr.Len()+2))
		fg := tr.FlameGraph(k)
		if fg.Total != sum {
			t.Fatalf("case %d: total %d, want %d", i, fg.Total, sum)
		}

		// Brute force: the kept nodes are those with total ≥ the k-th
		// largest total.
		tr.computeTotals()
		totals := slices.Clone(tr.total[1:])
		slices.Sort(totals)
		slices.Reverse(totals)
		var minTotal int64
		if int64(len(totals)) > k {
			minTotal = totals[k-1]
		}
		wantKept := 0
		for _, v := range totals {
			if v >= minTotal {
				wantKept++
			}
		}

		nodes := rebuildLevels(t, fg.Names, levelValues(fg.Levels), 4, 0, false)
		kept, others := 0, 0
		for li := 1; li < len(nodes); li++ {
			for _, n := range nodes[li] {
				if n.name == "other" {
					others++
					if n.self != n.total {
						t.Fatalf("case %d: other node self %d total %d", i, n.self, n.total)
					}
				} else {
					kept++
					if n.total < minTotal {
						t.Fatalf("case %d: node %s total %d below %d", i, n.name, n.total, minTotal)
					}
				}
			}
		}
		if kept != wantKept {
			t.Fatalf("case %d (k=%d): kept %d nodes, want %d", i, k, kept, wantKept)
		}
		if minTotal > 0 && kept < int(k) {
			t.Fatalf("case %d: kept %d < k=%d", i, kept, k)
		}
		if others > kept+1 {
			t.Fatalf("case %d: %d other nodes for %d kept nodes", i, others, kept)
		}
		// Conservation: every node's total is its self plus its children's.
		for li := 0; li < len(nodes); li++ {
			childSum := make([]int64, len(nodes[li]))
			if li+1 < len(nodes) {
				for _, c := range nodes[li+1] {
					childSum[c.parent] += c.total
				}
			}
			for ni, n := range nodes[li] {
				if n.self+childSum[ni] != n.total {
					t.Fatalf("case %d: level %d node %s: self %d + children %d != total %d", i, li, n.name, n.self, childSum[ni], n.total)
				}
			}
		}
	}
}

func TestKthLargest(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for range 500 {
		n := 1 + rng.IntN(50)
		vals := make([]int64, n)
		for i := range vals {
			vals[i] = int64(rng.IntN(1 + rng.IntN(20)))
		}
		sorted := slices.Clone(vals)
		slices.Sort(sorted)
		slices.Reverse(sorted)
		k := 1 + rng.IntN(n)
		if got := kthLargest(slices.Clone(vals), k); got != sorted[k-1] {
			t.Fatalf("kthLargest(%v, %d) = %d, want %d", vals, k, got, sorted[k-1])
		}
	}
}

func TestMergeAndIterateStacks(t *testing.T) {
	a := treeOf(stackValue{"main;a;x", 10}, stackValue{"main;b", 3})
	b := treeOf(stackValue{"main;a", 5}, stackValue{"init", 4}, stackValue{"main;a;x", 1})
	a.Merge(b)
	want := treeOf(stackValue{"main;a;x", 11}, stackValue{"main;b", 3}, stackValue{"main;a", 5}, stackValue{"init", 4})
	if got, w := treeDump(a), treeDump(want); !slices.Equal(got, w) {
		t.Fatalf("merged = %v, want %v", got, w)
	}
	var stacks []string
	a.IterateStacks(func(s []string, self int64) {
		stacks = append(stacks, fmt.Sprintf("%s=%d", strings.Join(s, ";"), self))
	})
	sort.Strings(stacks)
	if w := []string{"init=4", "main;a;x=11", "main;a=5", "main;b=3"}; !slices.Equal(stacks, w) {
		t.Errorf("stacks = %v, want %v", stacks, w)
	}
	var zero Tree
	zero.Merge(a)
	a.Merge(a)
	if zero.Total() != 23 || a.Total() != 46 {
		t.Errorf("totals after merges: %d, %d", zero.Total(), a.Total())
	}
}
