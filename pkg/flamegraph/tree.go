package flamegraph

import (
	"fmt"
	"slices"
	"strings"
	"unsafe"
	"weak"

	"github.com/cinder-profiling/cinder/pkg/symdb"
)

// Tree is a call tree whose frames are merged by function name (api.md
// §6.5.1): two stacks share a node as long as their root-first name
// prefixes are equal, recursion is not collapsed, and a node's self value is
// the sum of the values of the stacks ending at it.
//
// Nodes live in flat slices indexed by node ID. Node 0 is a virtual root
// above every stack; it has no name and no self value. A node's parent
// always has a smaller ID, which lets totals be computed in one backward
// pass and lets trees be merged or walked in ID order without recursion.
// Names are interned in the tree, so trees built from different partitions
// and blocks merge by name.
//
// The zero value is an empty tree ready to use. A Tree is not safe for
// concurrent use; build one per goroutine and Merge them.
type Tree struct {
	names      []string
	nameHashes []uint32 // nameHash of each name
	nameIDs    nameIndex

	parent []int32
	name   []int32 // name ID; -1 for the virtual root
	self   []int64
	total  []int64 // valid unless dirty
	dirty  bool

	children siblingIndex // children by name ID

	// partitionNames[nt][k] is 1 + the name ID of name k of partition name
	// tree nt (see partitionNameIDs), 0 while unknown. Reset keeps it (weakly: it does not keep
	// the name trees alive), and keeps names[:keptNames], copied.
	partitionNames map[weak.Pointer[nameTree]][]int32
	keptNames      int
	// namesGen changes whenever the name table is emptied: name IDs are
	// stable as long as it does not. translations[src] holds t's name IDs
	// for the names of another tree (see nameIDsOf).
	namesGen     uint64
	translations map[weak.Pointer[Tree]]*nameTranslation

	// Scratch of the name trees AddPartition builds, until Reset.
	build nameTreeScratch
	// The arrays AddPartition fills per partition: lent by shared, or the
	// tree's own without a pool.
	shared *ScratchPool
	own    *partitionScratch
	// nameTrees shares the name trees of partitions between blocks (see
	// ShareNames); nil for a tree of its own per partition.
	nameTrees *NameTrees
}

// ShareScratch has t borrow the arrays it fills per partition from p
// instead of keeping its own; nil goes back to its own. A tree kept for
// reuse then holds none of them between partitions.
func (t *Tree) ShareScratch(p *ScratchPool) {
	t.shared = p
	if p != nil {
		t.own = nil
	}
}

// NewTree returns an empty tree.
func NewTree() *Tree {
	t := &Tree{}
	t.init()
	return t
}

func (t *Tree) init() {
	if len(t.parent) > 0 {
		return
	}
	t.parent = append(t.parent, -1)
	t.name = append(t.name, -1)
	t.self = append(t.self, 0)
	t.total = append(t.total, 0)
	t.children.reset(0)
}

// intern returns the name ID of s, adding it to the name table if needed.
func (t *Tree) intern(s string) int32 {
	return t.internHashed(s, nameHash(s))
}

// internHashed is intern for a name whose hash h is known.
func (t *Tree) internHashed(s string, h uint32) int32 {
	if id := t.nameIDs.find(t.names, h, s); id >= 0 {
		return id
	}
	id := int32(len(t.names))
	t.names = append(t.names, s)
	t.nameHashes = append(t.nameHashes, h)
	t.nameIDs.add(h, id)
	return id
}

// internBytes is intern for a name that is not a string yet; the lookup
// does not allocate.
func (t *Tree) internBytes(b []byte) int32 {
	// The string shares b's memory only while it is looked up.
	s := unsafe.String(unsafe.SliceData(b), len(b))
	h := nameHash(s)
	if id := t.nameIDs.find(t.names, h, s); id >= 0 {
		return id
	}
	return t.internHashed(string(b), h)
}

// lookupName returns the name ID of s, or -1 when no node has that name.
func (t *Tree) lookupName(s string) int32 {
	return t.nameIDs.find(t.names, nameHash(s), s)
}

// child returns the child of parent named by name ID, creating it if needed.
func (t *Tree) child(parent, name int32) int32 {
	if n := t.children.get(parent, name); n >= 0 {
		return n
	}
	n := int32(len(t.parent))
	if len(t.parent) == cap(t.parent) {
		t.grow()
	}
	t.parent = append(t.parent, parent)
	t.name = append(t.name, name)
	t.self = append(t.self, 0)
	t.total = append(t.total, 0)
	t.children.add(parent, n, name)
	t.dirty = true
	return n
}

// grow doubles the room of the node arrays. Left to append, they would
// grow by a quarter at a time once past a few hundred nodes: the two trees
// of a first query over the bench bucket, 65 000 and 78 000 nodes,
// allocated 35 MB on the way, copying each node about four times.
func (t *Tree) grow() {
	more := max(len(t.parent), 256)
	t.parent = slices.Grow(t.parent, more)
	t.name = slices.Grow(t.name, more)
	t.self = slices.Grow(t.self, more)
	t.total = slices.Grow(t.total, more)
	t.children.grow(more)
}

// InsertStack adds value to the stack given by its frame names, root first.
// Values ≤ 0 and empty stacks are ignored, as in Pyroscope.
func (t *Tree) InsertStack(value int64, rootFirstNames ...string) {
	if value <= 0 || len(rootFirstNames) == 0 {
		return
	}
	t.init()
	n := int32(0)
	for _, s := range rootFirstNames {
		n = t.child(n, t.intern(s))
	}
	t.self[n] += value
	t.dirty = true
}

// AddPartition adds the samples of one partition: nodeSelf[i] is the summed
// value of the samples whose stack trace has partition node i as its leaf,
// so len(nodeSelf) must equal p.Tree.Len().
//
// Every partition node leading to a positive value is resolved, parents
// first, through the partition's name tree (built once per partition): its
// location's lines are inserted outermost first (lines are stored innermost
// first), and a location without lines maps to its parent's tree node. Values ≤ 0 are skipped. A value whose stack has no
// frame at all (a chunk root, or only line-less locations) has no node to
// land on and is dropped, as in Pyroscope.
func (t *Tree) AddPartition(p *symdb.Partition, nodeSelf []int64) error {
	n := p.Tree.Len()
	if len(nodeSelf) != n {
		return fmt.Errorf("partition %d: %d nodes, %d values: %w",
			p.Key, n, len(nodeSelf), ErrPartitionShape)
	}
	t.addPartition(p, partitionValues{node: nodeSelf}, 0)
	return nil
}

// Merge adds every node and self value of other to t. other is not modified
// (it may be t itself, which doubles every value).
func (t *Tree) Merge(other *Tree) {
	if other == nil || len(other.parent) <= 1 {
		return
	}
	t.init()
	n := len(other.parent)
	ids := t.nameIDsOf(other)
	nodeMap := make([]int32, n)
	for j := 1; j < n; j++ {
		on := other.name[j]
		name := t.internAt(other.names, other.nameHashes, ids, on)
		c := t.child(nodeMap[other.parent[j]], name)
		nodeMap[j] = c
		t.self[c] += other.self[j]
	}
	t.dirty = true
}

// nameTranslation is t's table of name IDs for another tree's names:
// entry k is 1 + t's name ID of the other tree's name k, 0 while unknown,
// valid while neither tree's name table is emptied.
type nameTranslation struct {
	srcGen, dstGen uint64
	ids            []int32
}

// nameIDsOf returns t's table of name IDs for the names of src (see
// nameTranslation). Reused trees keep their names, so a table made for one
// merge serves the next merge of the same two trees.
func (t *Tree) nameIDsOf(src *Tree) []int32 {
	key := weak.Make(src)
	tr := t.translations[key]
	if tr == nil || tr.srcGen != src.namesGen || tr.dstGen != t.namesGen {
		if t.translations == nil {
			t.translations = make(map[weak.Pointer[Tree]]*nameTranslation)
		}
		tr = &nameTranslation{srcGen: src.namesGen, dstGen: t.namesGen}
		t.translations[key] = tr
	}
	if n := len(src.names); len(tr.ids) < n {
		tr.ids = append(tr.ids, make([]int32, n-len(tr.ids))...)
	}
	return tr.ids
}

// internAt returns t's name ID for names[k], another table's name k, given
// the hashes of that table's names and ids, t's table of name IDs for it
// (1 + ID, 0 while unknown; see nameIDsOf and partitionNameIDs), which it
// completes.
func (t *Tree) internAt(names []string, hashes []uint32, ids []int32, k int32) int32 {
	if id := ids[k]; id > 0 {
		return id - 1
	}
	id := t.internHashed(names[k], hashes[k])
	ids[k] = id + 1
	return id
}

// computeTotals makes total valid: each node's self plus its children's
// totals, node 0 holding the tree total.
func (t *Tree) computeTotals() {
	t.init()
	if !t.dirty {
		return
	}
	copy(t.total, t.self)
	for i := len(t.parent) - 1; i > 0; i-- {
		t.total[t.parent[i]] += t.total[i]
	}
	t.dirty = false
}

// Total returns the sum of all values in the tree.
func (t *Tree) Total() int64 {
	t.computeTotals()
	return t.total[0]
}

// Len returns the number of nodes, not counting the virtual root.
func (t *Tree) Len() int {
	if len(t.parent) == 0 {
		return 0
	}
	return len(t.parent) - 1
}

// IterateStacks calls fn for every node with a non-zero self value, with
// the node's stack of names root first. The slice is reused between calls.
// Stacks come in node creation order.
func (t *Tree) IterateStacks(fn func(rootFirst []string, self int64)) {
	var stack []string
	for i := 1; i < len(t.parent); i++ {
		if t.self[i] == 0 {
			continue
		}
		stack = stack[:0]
		for n := int32(i); n > 0; n = t.parent[n] {
			stack = append(stack, t.names[t.name[n]])
		}
		slices.Reverse(stack)
		fn(stack, t.self[i])
	}
}

// childLists returns every node's children sorted byte-wise by name: the
// children of node v are kids[first[v]:first[v+1]]. It runs two counting
// sorts (by name rank, then stably by parent) after sorting the distinct
// names of the nodes once, so it costs O(nodes + names·log names). (A
// reset tree's name table may hold names no node has; they are not sorted.)
func (t *Tree) childLists() (first, kids []int32) {
	n := len(t.parent)
	m := len(t.names)
	rank := make([]int32, m)
	var order []int32
	for i := 1; i < n; i++ {
		if id := t.name[i]; rank[id] == 0 {
			rank[id] = 1
			order = append(order, id)
		}
	}
	slices.SortFunc(order, func(a, b int32) int { return strings.Compare(t.names[a], t.names[b]) })
	for r, id := range order {
		rank[id] = int32(r)
	}

	// Nodes ordered by name rank.
	pos := make([]int32, m+1)
	for i := 1; i < n; i++ {
		pos[rank[t.name[i]]+1]++
	}
	for r := 1; r <= m; r++ {
		pos[r] += pos[r-1]
	}
	byRank := make([]int32, n-1)
	for i := 1; i < n; i++ {
		r := rank[t.name[i]]
		byRank[pos[r]] = int32(i)
		pos[r]++
	}

	// Stable by parent.
	first = make([]int32, n+1)
	for i := 1; i < n; i++ {
		first[t.parent[i]+1]++
	}
	for v := 1; v <= n; v++ {
		first[v] += first[v-1]
	}
	fill := make([]int32, n)
	copy(fill, first[:n])
	kids = make([]int32, n-1)
	for _, c := range byRank {
		par := t.parent[c]
		kids[fill[par]] = c
		fill[par]++
	}
	return first, kids
}

// minTotal returns the smallest total a node must reach to survive a budget
// of maxNodes (api.md §6.5.3): the maxNodes-th largest total over all nodes
// but the virtual root, duplicates counted; 0 when nothing is to be removed.
func (t *Tree) minTotal(maxNodes int64) int64 {
	n := int64(len(t.parent) - 1)
	if maxNodes < 1 || n <= maxNodes {
		return 0
	}
	vals := make([]int64, n)
	copy(vals, t.total[1:])
	return kthLargest(vals, int(maxNodes))
}

// growScratch returns scratch s with length n, its contents undefined. A
// new array has an eighth more room: scratch is reused over partitions a
// few percent apart in size, and the first query, taking them in any
// order, would otherwise allocate it again at every larger one (5 to 7 MB
// for the bench bucket's first query, against 3 MB with the room).
func growScratch[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n, n+n/8)
	}
	return s[:n]
}
