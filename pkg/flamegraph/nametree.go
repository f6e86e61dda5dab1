package flamegraph

import (
	"slices"
	"sync"
	"unsafe"
	"weak"

	"github.com/cinder-profiling/cinder/pkg/symdb"
)

// nameTree is the call tree of a whole partition, frames merged by function
// name: what AddPartition would build from every node of the partition. It
// depends on the partition alone, so it is built once per partition and
// shared by every query (see partitionNameTree); a query then only sums its
// values into flat arrays indexed by name node.
//
// Name node 0 is the virtual root; parent[i] < i for every other node, and
// names[nameOf(i)] is its function name.
type nameTree struct {
	// leafName[k] is the name node of the stack ending at leaf k of the
	// partition (see symdb.LeafIndex), where samples sit: 0, the empty
	// stack, for a chunk root or a stack of line-less locations only. The
	// name nodes of all nodes, which only a query with values on inner
	// nodes needs, are a nodeMap of their own (see partitionNodeMap).
	leafName []int32
	parent   []int32
	// The index into names of each node's name, in name16 when there are
	// at most 1<<16 names (a partition has a few thousand), else in
	// name32; the other is nil. The root's entry means nothing.
	name16 []uint16
	name32 []int32
	names  []string
	// nameHash of each name, computed once here for every Tree that
	// interns the names.
	hashes []uint32

	// What the tree was built from, to catch a partition that changed
	// (partitions are immutable, but hand-built test partitions grow).
	nodes, locations, functions, strs int
	tree                              symdb.StackTreeID
}

// SizeBytes is the memory nt holds beside its partition (the names are the
// partition's strings), so that a partition cache counts it (see
// symdb.Partition.Derived).
func (nt *nameTree) SizeBytes() int64 {
	return int64(unsafe.Sizeof(*nt)) + sliceBytes(nt.leafName) + sliceBytes(nt.parent) +
		sliceBytes(nt.name16) + sliceBytes(nt.name32) + sliceBytes(nt.names) + sliceBytes(nt.hashes)
}

// nameOf returns the index into names of the name of node j.
func (nt *nameTree) nameOf(j int32) int32 {
	if nt.name16 != nil {
		return int32(nt.name16[j])
	}
	return nt.name32[j]
}

// nodeMap holds the name node of the stack ending at every node of a
// partition: i + delta[i] when that fits 16 bits for every node, else
// of32[i]; the other is nil. Name nodes are made as the partition's nodes
// are walked, so they are seldom far apart: only a partition whose later
// chunks repeat the stacks of an earlier one needs 32 bits.
type nodeMap struct {
	delta []int16
	of32  []int32
}

func newNodeMap(nodeOf []int32) *nodeMap {
	if delta := nodeDeltas(nodeOf); delta != nil {
		return &nodeMap{delta: delta}
	}
	return &nodeMap{of32: slices.Clone(nodeOf)}
}

// SizeBytes is the memory nm holds, for the partition cache.
func (nm *nodeMap) SizeBytes() int64 {
	return int64(unsafe.Sizeof(*nm)) + sliceBytes(nm.delta) + sliceBytes(nm.of32)
}

func (nm *nodeMap) len() int { return max(len(nm.delta), len(nm.of32)) }

// addSelf adds each positive value of nodeSelf, one per partition node,
// to self at its node's name node.
func (nm *nodeMap) addSelf(self, nodeSelf []int64) {
	if nm.delta != nil {
		delta := nm.delta[:len(nodeSelf)]
		for i, v := range nodeSelf {
			if v > 0 {
				self[i+int(delta[i])] += v
			}
		}
		return
	}
	nodeOf := nm.of32[:len(nodeSelf)]
	for i, v := range nodeSelf {
		if v > 0 {
			self[nodeOf[i]] += v
		}
	}
}

// addLeafSelf adds each positive value of leafSelf, one per leaf of the
// partition, to self at its leaf's name node. It visits the leaves only,
// an eighth of the nodes that a nodeMap's addSelf visits.
func (nt *nameTree) addLeafSelf(self, leafSelf []int64) {
	leafName := nt.leafName[:len(leafSelf)]
	for k, v := range leafSelf {
		if v > 0 {
			self[leafName[k]] += v
		}
	}
}

// partitionValues are the values addPartition adds: per node in node, per
// leaf of the partition in leaf, or both (node then holds inner nodes'
// values); either may be nil.
type partitionValues struct {
	node []int64
	leaf []int64
}

// matches reports whether nt was built from p as it is now.
func (nt *nameTree) matches(p *symdb.Partition) bool {
	return nt.nodes == p.Tree.Len() && nt.locations == len(p.Locations) &&
		nt.functions == len(p.Functions) && nt.strs == len(p.Strings) && nt.tree == p.Tree.ID()
}

// nameTreeScratch is what buildNameTree grows while it builds, reused from
// one build to the next.
type nameTreeScratch struct {
	children             siblingIndex
	nodeOf, parent, name []int32
	nameIDs              nameIndex
	// parents are the partition's, decoded for the build (see
	// symdb.StackTree.AppendParents): a tenth faster than Parent per node.
	parents []int32
}

// buildNameTree resolves every node of p, parents first. A location's
// lines are stored innermost first and enter the tree outermost first; a
// location without lines maps to its parent's node.
//
// The name node of every partition node is left in scratch.nodeOf, for
// partitionNodeMap.
func buildNameTree(p *symdb.Partition, leaves *symdb.LeafIndex, scratch *nameTreeScratch) *nameTree {
	children := &scratch.children
	n := p.Tree.Len()
	// Every line of every node could make a name node: an upper bound
	// that sizes the arrays once.
	bound := 1
	parents := p.Tree.AppendParents(scratch.parents[:0])
	scratch.parents = parents
	for i, par := range parents {
		if par >= 0 {
			bound += len(p.Locations[p.Tree.Location(int32(i))].Lines)
		}
	}
	// The tree grows in the scratch arrays, sized for the bound, and is
	// copied out at its size: frames merged by name leave the bound partly
	// unused, and the tree is kept for as long as the partition.
	if cap(scratch.parent) < bound {
		scratch.parent = make([]int32, 0, bound)
		scratch.name = make([]int32, 0, bound)
	}
	nodeOf := growInt32(scratch.nodeOf, n)
	nt := &nameTree{
		parent:    append(scratch.parent[:0], -1),
		nodes:     n,
		locations: len(p.Locations),
		functions: len(p.Functions),
		strs:      len(p.Strings),
	}
	nt.tree = p.Tree.ID()
	fnName := make([]int32, len(p.Functions))
	for i := range fnName {
		fnName[i] = -1
	}
	// Name indexes grow as int32 in the scratch; they are copied out in 16
	// bits when they fit.
	name := append(scratch.name[:0], -1)
	// A partition has at most a name per function, and per string.
	nameIDs := &scratch.nameIDs
	nameIDs.reset()
	nameIDs.reserve(min(len(p.Functions), len(p.Strings)))
	children.reset(bound)
	for i := 0; i < n; i++ {
		par := parents[i]
		if par < 0 {
			nodeOf[i] = 0 // a chunk root is the empty stack
			continue
		}
		cur := nodeOf[par]
		lines := p.Locations[p.Tree.Location(int32(i))].Lines
		for j := len(lines) - 1; j >= 0; j-- {
			fn := lines[j].FunctionID
			nm := fnName[fn]
			if nm < 0 {
				s := p.Strings[p.Functions[fn].Name]
				h := nameHash(s)
				id := nameIDs.find(nt.names, h, s)
				if id < 0 {
					id = int32(len(nt.names))
					nt.names = append(nt.names, s)
					nt.hashes = append(nt.hashes, h)
					nameIDs.add(h, id)
				}
				fnName[fn] = id
				nm = id
			}
			c := children.get(cur, nm)
			if c < 0 {
				c = int32(len(nt.parent))
				nt.parent = append(nt.parent, cur)
				name = append(name, nm)
				children.add(cur, c, nm)
			}
			cur = c
		}
		nodeOf[i] = cur
	}
	scratch.nodeOf, scratch.parent, scratch.name = nodeOf, nt.parent[:0], name[:0]
	nt.leafName = make([]int32, leaves.Count)
	for k, node := range leaves.All() {
		nt.leafName[k] = nodeOf[node]
	}
	nt.parent = slices.Clone(nt.parent)
	if len(nt.names) <= 1<<16 {
		name16 := make([]uint16, len(name))
		for j, nm := range name {
			name16[j] = uint16(nm)
		}
		nt.name16 = name16
	} else {
		nt.name32 = slices.Clone(name)
	}
	return nt
}

// nodeDeltas returns nodeOf[i] - i for every i, or nil if one does not fit
// 16 bits.
func nodeDeltas(nodeOf []int32) []int16 {
	delta := make([]int16, len(nodeOf))
	for i, c := range nodeOf {
		d := int(c) - i
		if d != int(int16(d)) {
			return nil
		}
		delta[i] = int16(d)
	}
	return delta
}

// nameTreeKey is the key of a partition's name tree among the values
// derived from the partition.
type nameTreeKey struct{}

// partitionNameTree returns the name tree of p, built on first use and kept
// with p, so it lives exactly as long as the partition does.
func partitionNameTree(p *symdb.Partition, scratch *nameTreeScratch) *nameTree {
	// Outside Derived's build: it holds the partition's lock.
	leaves := p.Leaves()
	nt := p.Derived(nameTreeKey{}, func() any { return buildNameTree(p, leaves, scratch) }).(*nameTree)
	if !nt.matches(p) {
		// Partitions are immutable; only hand-built test partitions grow.
		return buildNameTree(p, leaves, scratch)
	}
	return nt
}

type nodeMapKey struct{}

// partitionNodeMap returns the name node of every node of p, built on
// first use and kept with p. It builds p's name tree again, which numbers
// name nodes as the kept one does, and keeps only the node map: queries
// with values on inner nodes are rare, and a map for every partition
// would be 2 bytes per node.
func partitionNodeMap(p *symdb.Partition, scratch *nameTreeScratch) *nodeMap {
	leaves := p.Leaves()
	build := func() *nodeMap {
		buildNameTree(p, leaves, scratch)
		return newNodeMap(scratch.nodeOf[:p.Tree.Len()])
	}
	nm := p.Derived(nodeMapKey{}, func() any { return build() }).(*nodeMap)
	if nm.len() != p.Tree.Len() {
		return build()
	}
	return nm
}

// partitionScratch holds the per-partition arrays of addPartition, reused
// between calls. kids is all zeros between calls.
type partitionScratch struct {
	self, total, kids []int64
	dst, kept, cand   []int32
	cut               cutScratch
}

// ScratchPool lends the arrays addPartition fills per name node of a
// partition: a few megabytes on the bench bucket, and only in use while a
// partition is added. Trees that share a pool (see Tree.ShareScratch) hold
// none of them between partitions, so the trees a caller keeps for reuse
// share a set per core instead of holding one each.
//
// A pool lends at most max sets at a time and keeps them for the next
// borrowers; a borrower waits while all are lent. Lending more would not
// add partitions faster, as each borrower computes without blocking, but a
// caller may run more goroutines than cores, and a goroutine preempted
// while adding a partition would make the next one grow a new set of
// arrays, megabytes each time.
//
// NOTE: a borrower must not wait on anything while it holds a set.
type ScratchPool struct {
	max      int
	mu       sync.Mutex
	returned sync.Cond // signalled by put; L is mu
	free     []*partitionScratch
	lent     int
}

// NewScratchPool returns a pool that lends at most n sets at a time
// (at least one): the number of cores that add partitions.
func NewScratchPool(n int) *ScratchPool {
	sp := &ScratchPool{max: max(n, 1)}
	sp.returned.L = &sp.mu
	return sp
}

func (sp *ScratchPool) get() *partitionScratch {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	for {
		if n := len(sp.free); n > 0 {
			sc := sp.free[n-1]
			sp.free[n-1] = nil
			sp.free = sp.free[:n-1]
			sp.lent++
			return sc
		}
		if sp.lent < sp.max {
			sp.lent++
			return new(partitionScratch)
		}
		sp.returned.Wait()
	}
}

func (sp *ScratchPool) put(sc *partitionScratch) {
	sp.mu.Lock()
	sp.lent--
	sp.free = append(sp.free, sc)
	sp.mu.Unlock()
	sp.returned.Signal()
}

func growInt64(s []int64, n int) []int64 {
	if cap(s) < n {
		return make([]int64, n)
	}
	return s[:n]
}

// partitionNameIDs returns t's table of name IDs for the names of nt:
// entry k is 1 + t's name ID of name k of nt, 0 while unknown. Each name of
// a partition is interned at most once per tree.
func (t *Tree) partitionNameIDs(nt *nameTree) []int32 {
	key := weak.Make(nt)
	ids := t.partitionNames[key]
	if ids == nil {
		if t.partitionNames == nil {
			t.partitionNames = make(map[weak.Pointer[nameTree]][]int32)
		}
		ids = make([]int32, len(nt.names))
		t.partitionNames[key] = ids
	}
	return ids
}

// addPartition adds the positive values of p to t through p's name tree,
// truncating the partition's own tree to maxNodes nodes first when
// maxNodes ≥ 1 (see AddPartitionTruncated). Only the nodes that survive
// are looked up in t.
func (t *Tree) addPartition(p *symdb.Partition, values partitionValues, maxNodes int64) {
	t.init()
	nt := partitionNameTree(p, &t.build)
	var nodes *nodeMap
	if values.node != nil {
		nodes = partitionNodeMap(p, &t.build)
	}
	m := len(nt.parent)
	// Borrowed once the name tree and node map are there: building them
	// may wait for another goroutine's build of the same partition.
	sc := t.own
	if t.shared != nil {
		sc = t.shared.get()
		defer t.shared.put(sc)
	} else if sc == nil {
		sc = new(partitionScratch)
		t.own = sc
	}

	// Self per name node; values of the empty stack are dropped.
	self := growInt64(sc.self, m)
	clear(self)
	if nodes != nil {
		nodes.addSelf(self, values.node)
	}
	if values.leaf != nil {
		nt.addLeafSelf(self, values.leaf)
	}
	self[0] = 0

	// Totals, children before parents. A node's total is never below a
	// child's, so the nodes whose total reaches minTotal are closed under
	// parents: they are the partition's truncated tree. minTotal is the
	// maxNodes-th largest total, or 1 when fewer nodes have a positive
	// total (then every one of them is kept).
	total := growInt64(sc.total, m)
	copy(total, self)
	parent := nt.parent
	for j := m - 1; j > 0; j-- {
		total[parent[j]] += total[j]
	}
	var k int
	if maxNodes >= 1 {
		k = int(min(maxNodes, int64(m)))
	}
	cand, minTotal := cutNodes(sc.cand[:0], total, k, &sc.cut)
	sc.cand = cand

	// dst[j] is the node of t that kept name node j went to. Under a cut,
	// kids[j] sums the totals of j's kept children, so that what the cut
	// dropped below j is total[j] - self[j] - kids[j].
	dst := growInt32(sc.dst, m)
	dst[0] = 0
	cut := minTotal > 1
	kids := sc.kids
	if cut {
		kids = growInt64(kids, m)
	}
	kept := sc.kept[:0]
	ids := t.partitionNameIDs(nt)
	for _, j := range cand {
		tj := total[j]
		if tj < minTotal {
			continue
		}
		par := parent[j]
		c := t.child(dst[par], t.internAt(nt.names, nt.hashes, ids, nt.nameOf(j)))
		dst[j] = c
		t.self[c] += self[j]
		if cut {
			kids[par] += tj
			kept = append(kept, j)
		}
	}
	if cut {
		// The dropped children of the root and of each kept node become
		// its child "other".
		other := int32(-1)
		addOther := func(j int32) {
			v := total[j] - self[j] - kids[j]
			kids[j] = 0
			if v == 0 {
				return
			}
			if other < 0 {
				other = t.intern(otherName)
			}
			c := t.child(dst[j], other)
			t.self[c] += v
		}
		addOther(0)
		for _, j := range kept {
			addOther(j)
		}
	}
	t.dirty = true
	sc.self, sc.total, sc.dst, sc.kids, sc.kept = self, total, dst, kids, kept
}
