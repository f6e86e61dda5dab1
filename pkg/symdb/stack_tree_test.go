package symdb

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// treeShape says how randomTree draws a node's parent and location.
type treeShape struct {
	chain   int // percent of nodes whose parent is the node before
	roots   int // percent of roots among the others
	far     int // percent of the others whose parent is any earlier node
	maxLoc  int32
	farJump bool // put 70 000 chain nodes in the middle, for parents ≥ 65 536 away
}

// randomTree returns the parents and locations of a random tree of n
// nodes; roots have location 0.
func randomTree(rng *rand.Rand, n int, s treeShape) (parents, locs []int32) {
	parents, locs = make([]int32, n), make([]int32, n)
	for i := range n {
		r := rng.IntN(100)
		switch {
		case i == 0 || (s.farJump && i == n/2):
			parents[i] = -1
		case s.farJump && i > n/2 && i < n/2+70000:
			parents[i] = int32(i - 1)
		case r < s.chain:
			parents[i] = int32(i - 1)
		case r < s.chain+(100-s.chain)*s.roots/100:
			parents[i] = -1
		case r < s.chain+(100-s.chain)*(s.roots+s.far)/100:
			parents[i] = rng.Int32N(int32(i))
		default: // a sibling nearby, as a new branch of a recent stack
			parents[i] = int32(max(-1, i-2-rng.IntN(40)))
		}
		if parents[i] >= 0 {
			locs[i] = rng.Int32N(s.maxLoc)
		}
	}
	return parents, locs
}

var treeShapes = []struct {
	name  string
	shape treeShape
}{
	{"chains", treeShape{chain: 100, maxLoc: 3000}},
	{"bench-like", treeShape{chain: 88, roots: 1, far: 20, maxLoc: 3275}},
	{"branches", treeShape{chain: 30, roots: 5, far: 50, maxLoc: 65536}},
	{"no chains", treeShape{chain: 0, roots: 10, far: 50, maxLoc: 100}},
	{"wide locations", treeShape{chain: 70, roots: 2, far: 30, maxLoc: 1 << 30}},
	{"far parents", treeShape{chain: 80, roots: 1, far: 10, maxLoc: 500, farJump: true}},
}

// TestStackTree checks every accessor of trees of many shapes and sizes
// against the slices they were made from.
func TestStackTree(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, ts := range treeShapes {
		sizes := []int{0, 1, 2, 63, 64, 65, 127, 128, 129, 1000, 5000}
		if ts.shape.farJump {
			sizes = []int{150000}
		}
		for _, n := range sizes {
			parents, locs := randomTree(rng, n, ts.shape)
			tree, err := NewStackTree(parents, locs)
			if err != nil {
				t.Fatalf("%s, %d nodes: %v", ts.name, n, err)
			}
			if tree.Len() != n {
				t.Fatalf("%s: Len %d, want %d", ts.name, tree.Len(), n)
			}
			for i := range int32(n) {
				if got := tree.Parent(i); got != parents[i] {
					t.Fatalf("%s, %d nodes: Parent(%d) = %d, want %d", ts.name, n, i, got, parents[i])
				}
				if got := tree.IsRoot(i); got != (parents[i] < 0) {
					t.Fatalf("%s, %d nodes: IsRoot(%d) = %v, parent %d", ts.name, n, i, got, parents[i])
				}
				if got := tree.Location(i); got != locs[i] {
					t.Fatalf("%s, %d nodes: Location(%d) = %d, want %d", ts.name, n, i, got, locs[i])
				}
			}
			prefix := []int32{7, 8}
			if got := tree.AppendParents(slices.Clone(prefix)); !slices.Equal(got, append(slices.Clone(prefix), parents...)) {
				t.Fatalf("%s, %d nodes: AppendParents differs", ts.name, n)
			}
			if got := tree.AppendLocations(slices.Clone(prefix)); !slices.Equal(got, append(slices.Clone(prefix), locs...)) {
				t.Fatalf("%s, %d nodes: AppendLocations differs", ts.name, n)
			}
			if got := branchParents(&tree); !slices.Equal(got, parents) {
				t.Fatalf("%s, %d nodes: Branches gives other parents", ts.name, n)
			}
			wide := slices.Max(append([]int32{0}, locs...)) > 0xffff
			if (tree.loc32 != nil) != wide || (n > 0 && (tree.loc16 != nil) == wide) {
				t.Errorf("%s, %d nodes: 32-bit locations %v, want %v", ts.name, n, tree.loc32 != nil, wide)
			}
			if n >= 1000 && tree.SizeBytes() >= int64(8*n) {
				t.Errorf("%s, %d nodes: %d bytes, no less than two []int32", ts.name, n, tree.SizeBytes())
			}
			if n >= 1000 && ts.shape.chain >= 80 && !wide && tree.SizeBytes() >= int64(3*n) {
				t.Errorf("%s, %d nodes: %d bytes, 3 a node or more", ts.name, n, tree.SizeBytes())
			}
			copied, again := tree, MustStackTree(parents, locs)
			if copied.ID() != tree.ID() || (n > 0 && tree.ID() == again.ID()) {
				t.Errorf("%s, %d nodes: IDs do not tell trees apart", ts.name, n)
			}
		}
	}
}

// TestStackTreeFarParents checks that a tree whose branches start 65 536
// nodes and more after their parents keeps them.
func TestStackTreeFarParents(t *testing.T) {
	const n = 200000
	parents, locs := make([]int32, n), make([]int32, n)
	parents[0] = -1
	for i := 1; i < n; i++ {
		parents[i] = int32(i - 1)
		locs[i] = int32(i % 1000)
	}
	for _, i := range []int{65537, 100000, 150001, n - 1} {
		parents[i] = int32(i - 65536 - i%3)
	}
	tree := MustStackTree(parents, locs)
	if got := tree.AppendParents(nil); !slices.Equal(got, parents) {
		t.Fatal("AppendParents differs")
	}
	if got := branchParents(&tree); !slices.Equal(got, parents) {
		t.Fatal("Branches gives other parents")
	}
	for _, i := range []int32{65536, 65537, 65538, 100000, 150001, n - 1} {
		if got := tree.Parent(i); got != parents[i] {
			t.Errorf("Parent(%d) = %d, want %d", i, got, parents[i])
		}
	}
}

// TestStackTreeRootLocation checks that a root's location, which means
// nothing, neither widens the locations nor fails the tree.
func TestStackTreeRootLocation(t *testing.T) {
	tree := MustStackTree([]int32{-1, 0, -1, 2}, []int32{1 << 20, 3, -5, 4})
	if tree.loc16 == nil {
		t.Error("a root's location widened the tree")
	}
	if got := tree.AppendLocations(nil); !slices.Equal(got, []int32{0, 3, 0, 4}) {
		t.Errorf("locations %v", got)
	}
}

func TestNewStackTreeRejects(t *testing.T) {
	cases := []struct {
		name          string
		parents, locs []int32
		err           string
	}{
		{"lengths differ", []int32{-1, 0}, []int32{0}, "2 parents but 1 locations"},
		{"root with a parent", []int32{0}, []int32{0}, "node 0 has parent 0"},
		{"parent after child", []int32{-1, 2, 0}, []int32{0, 1, 1}, "node 1 has parent 2"},
		{"parent below -1", []int32{-1, -2}, []int32{0, 1}, "node 1 has parent -2"},
		{"negative location", []int32{-1, 0}, []int32{0, -1}, "node 1 refers to location -1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := NewStackTree(c.parents, c.locs); err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("error %v, want %q", err, c.err)
			}
		})
	}
}

func TestStackTreeCheckLocations(t *testing.T) {
	tree := MustStackTree([]int32{-1, 0, 1, -1, 3}, []int32{0, 4, 9, 0, 2})
	if err := tree.checkLocations(10); err != nil {
		t.Errorf("10 locations: %v", err)
	}
	if err := tree.checkLocations(9); err == nil || !strings.Contains(err.Error(), "node 2 refers to location 9 of 9") {
		t.Errorf("9 locations: %v", err)
	}
	// A location that does not fit int32, as a corrupt chunk may hold.
	b := newStackTreeBuilder(2)
	b.add(-1, 0)
	b.add(0, -7)
	bad := b.finish()
	if err := bad.checkLocations(1 << 20); err == nil || !strings.Contains(err.Error(), "node 1 refers to location -7") {
		t.Errorf("negative location: %v", err)
	}
}

// branchParents returns the parent of every node of t as a walk over
// Branches finds them: the node before for an unmarked node, the next of
// the branch parents for a marked one. It fails the parents' count by
// returning nil when the marks and the parents disagree.
func branchParents(t *StackTree) []int32 {
	marks, far := t.Branches()
	if len(marks) != (t.Len()+63)/64 {
		return nil
	}
	parents := make([]int32, t.Len())
	for i := range parents {
		if marks[i/64]>>(i%64)&1 == 0 {
			parents[i] = int32(i - 1)
			continue
		}
		if len(far) == 0 {
			return nil
		}
		parents[i], far = far[0], far[1:]
	}
	if len(far) != 0 {
		return nil
	}
	return parents
}
