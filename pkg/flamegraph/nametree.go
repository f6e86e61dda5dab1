package flamegraph

import (
	"fmt"
	"math/bits"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"
	"weak"

	"github.com/cinder-profiling/cinder/pkg/symdb"
)

// nameTree is a call tree whose frames are merged by function name, made of
// the stacks of one partition or more (its members): what AddPartition
// would build from every node of them. It depends on the partitions alone,
// so it is built once and used by every query (see partitionNameTree); a
// query then only sums its values into flat arrays indexed by name node.
//
// A name tree only grows: a partition adds the nodes its stacks need under
// mu, and each state the tree grows to is published as a new nameNodes,
// never changed after, that readers load without a lock. A state loaded
// after a member's partitionNames was made covers every node of that
// member. Readers hold a state only while they add a partition, so an old
// state is garbage soon after the tree has grown past it.
type nameTree struct {
	nodes atomic.Pointer[nameNodes]
	mu    sync.Mutex // held while a partition adds its nodes
	// copyNames has names copied into memory of the tree's own: a tree
	// shared by partitions must not keep the strings table of a member
	// that has left the cache (all of a table's strings share one
	// allocation). A tree of one partition shares its strings.
	copyNames bool
	// minOwn is the fewest name nodes the stacks of a member reach (see
	// maxNameTreeGrowth); 0 before the first member. Guarded by mu.
	minOwn int
}

// maxNameTreeGrowth bounds a shared name tree: a partition joins a tree
// only if the tree, with the nodes the partition adds, has at most
// maxNameTreeGrowth times as many nodes as the stacks of every member
// reach, the partition's own included. What a query spends on a partition
// grows with the nodes of its name tree (addPartition sums and cuts over
// all of them), so no member costs a query more than twice what a tree of
// its own would; and a tree never has more nodes than any two of its
// members' trees of their own would have together, so sharing never costs
// nodes. Stacks that a service no longer makes (a new binary) stay in a
// tree until it would break the bound: the partition that would break it
// starts a new tree.
const maxNameTreeGrowth = 2

// nameNodes is one state of a nameTree. Name node 0 is the virtual root;
// parent[i] < i for every other node, and names[nameOf(i)] is its function
// name.
//
// NOTE: a nameNodes is never modified once published, and every slice is
// exactly as long as its capacity: no later state writes into its arrays.
type nameNodes struct {
	parent []int32
	// The index into names of each node's name, in name16 when there are
	// at most 1<<16 names (a partition has a few thousand), else in
	// name32; the other is nil. The root's entry means nothing.
	name16 []uint16
	name32 []int32
	names  []string
	// nameHash of each name, computed once here for every Tree that
	// interns the names.
	hashes []uint32
	// nameBytes is the size of the names copied into the tree's memory
	// (see nameTree.copyNames).
	nameBytes int64
	// segments are the nodes' chains, for addLeafSegments.
	segments nameSegments
}

// newNameTree returns a tree holding the root alone.
func newNameTree(copyNames bool) *nameTree {
	nt := &nameTree{copyNames: copyNames}
	nt.nodes.Store(&nameNodes{parent: []int32{-1}, name16: []uint16{0}, segments: newNameSegments([]int32{-1})})
	return nt
}

// sizeBytes is the memory nn holds.
func (nn *nameNodes) sizeBytes() int64 {
	return int64(unsafe.Sizeof(*nn)) + sliceBytes(nn.parent) + sliceBytes(nn.name16) + sliceBytes(nn.name32) +
		sliceBytes(nn.names) + sliceBytes(nn.hashes) + nn.nameBytes + nn.segments.sizeBytes()
}

// nameOf returns the index into names of the name of node j.
func (nn *nameNodes) nameOf(j int32) int32 {
	if nn.name16 != nil {
		return int32(nn.name16[j])
	}
	return nn.name32[j]
}

// partitionNames is what a partition keeps of its name tree (see
// partitionNameTree): the tree, which other partitions may share, and the
// name node of each of its leaves.
type partitionNames struct {
	tree *nameTree
	// leafName[k] is the name node of the stack ending at leaf k of the
	// partition (see symdb.LeafIndex), where samples sit: 0, the empty
	// stack, for a chunk root or a stack of line-less locations only. The
	// name nodes of all nodes, which only a query with values on inner
	// nodes needs, are a nodeMap of their own (see partitionNodeMap).
	leafName []int32
	// added is what the partition made its tree grow by, in bytes; the
	// partition that made the tree is charged the empty tree too.
	added int64

	// What the names were made from, to catch a partition that changed
	// (partitions are immutable, but hand-built test partitions grow).
	nodes, locations, functions, strs int
	stacks                            symdb.StackTreeID
}

// SizeBytes is the memory pn holds beside its partition, so that a
// partition cache counts it (see symdb.Partition.Derived): its leaves'
// name nodes and what it added to its name tree. The members of a shared
// tree together are charged the whole tree, each its own part, so that a
// cache sums to what it holds. The nodes of a member the cache dropped
// stay in the tree, uncharged, while other members use it.
func (pn *partitionNames) SizeBytes() int64 {
	return int64(unsafe.Sizeof(*pn)) + sliceBytes(pn.leafName) + pn.added
}

// matches reports whether pn was made from p as it is now.
func (pn *partitionNames) matches(p *symdb.Partition) bool {
	return pn.nodes == p.Tree.Len() && pn.locations == len(p.Locations) &&
		pn.functions == len(p.Functions) && pn.strs == len(p.Strings) && pn.stacks == p.Tree.ID()
}

// addLeafSelf adds each positive value of leafSelf, one per leaf of the
// partition, to self at its leaf's name node. It visits the leaves only,
// an eighth of the nodes that a nodeMap's addSelf visits.
func (pn *partitionNames) addLeafSelf(self, leafSelf []int64) {
	addAt(self, leafSelf, pn.leafName)
}

// addAt adds each positive values[k] to self[at[k]].
func addAt(self, values []int64, at []int32) {
	at = at[:len(values)]
	for k, v := range values {
		if v > 0 {
			self[at[k]] += v
		}
	}
}

// nodeMap holds the name node of the stack ending at every node of a
// partition: i + delta[i] when that fits 16 bits for every node, else
// of32[i]; the other is nil. A tree of one partition makes name nodes as
// the partition's nodes are walked, so they are seldom far apart: only a
// partition whose later chunks repeat the stacks of an earlier one needs
// 32 bits. A shared tree numbers its nodes as its first member walked
// them, which makes 32 bits more likely for the others.
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
	addAt(self, nodeSelf, nm.of32)
}

// partitionValues are the values addPartition adds: per node in node, per
// leaf of the partition in leaf, or both (node then holds inner nodes'
// values); either may be nil.
type partitionValues struct {
	node []int64
	leaf []int64
}

// nameTreeScratch is what a walk of a partition over a name tree grows,
// reused from one walk to the next. After a walk, grow reads what it
// staged and partitionNodeMap reads nodeOf; the rest serves the walk only.
type nameTreeScratch struct {
	// children indexes the nodes of the tree walked, and those staged,
	// but for those made right after their parent (see walk).
	children childIndex
	// nodeOf[i] is the name node of partition node i.
	nodeOf []int32
	// The nodes the partition needs that the tree lacks: the parent and
	// name of node len(tree)+k are parent[k] and name[k].
	parent, name []int32
	// names is the tree's names, then the names the partition adds, whose
	// hashes are newHashes.
	names     []string
	newHashes []uint32
	nameIDs   nameIndex
	// fnName[f] is the name of function f, -1 until resolved.
	fnName []int32
	// locName[l] is the name of location l if it has a single line, else
	// locNoLines, or locInlined-k for a location of several lines whose
	// names, outermost first, follow their count at inlined[k].
	locName []int32
	inlined []int32
	// reached marks the tree's nodes the partition's stacks reach.
	reached []uint64
}

// Marks in nameTreeScratch.locName for the locations that have no single
// name: without lines, or with inlined lines (the mark less the offset of
// their names).
const (
	locNoLines = -2
	locInlined = -3
)

// walk resolves every node of p in the name tree nn, parents first. A
// location's lines are stored innermost first and enter the tree outermost
// first; a location without lines maps to its parent's node. It leaves the
// name node of partition node i in sc.nodeOf[i]; the nodes and names nn
// lacks are staged in sc, numbered after nn's (see grow), not added.
//
// It returns the number of name nodes p's stacks reach, the root
// included: the size of the name tree of p alone.
func (sc *nameTreeScratch) walk(p *symdb.Partition, nn *nameNodes) int {
	n := p.Tree.Len()
	treeNodes := len(nn.parent)
	nodeOf := growScratch(sc.nodeOf, n)

	// The tree's nodes, indexed for the walk. The index is rebuilt by each
	// walk rather than kept with the tree: it would be larger than the
	// tree. A node made right after its parent is left out of it: a step
	// tries that node first, and a tree is made mostly in depth-first
	// order, where a node's first child follows it. What is left (a tenth
	// of the nodes on the bench bucket) fits a hash table small enough to
	// stay in the cache: a walk that joins a shared tree took 28% less
	// time, one that builds a tree 43% less, than with every node in
	// lists of siblings.
	children := &sc.children
	children.reset()
	// A node that does not follow its parent starts a segment (see
	// nameSegments): a sixth of the nodes to look at.
	starts := nn.segments.start
	for _, j := range starts[1 : len(starts)-1] {
		if par := nn.parent[j]; par != j-1 {
			children.put(par, nn.nameOf(j), j)
		}
	}
	reached := growScratch(sc.reached, (treeNodes+63)/64)
	clear(reached)
	reached[0] = 1 // the root

	// A partition has at most a name per function, and per string.
	sc.names = append(sc.names[:0], nn.names...)
	sc.newHashes = sc.newHashes[:0]
	sc.nameIDs.reset()
	sc.nameIDs.reserve(len(nn.names) + min(len(p.Functions), len(p.Strings)))
	for k, h := range nn.hashes {
		sc.nameIDs.add(h, int32(k))
	}
	sc.fnName = growScratch(sc.fnName, len(p.Functions))
	for f := range sc.fnName {
		sc.fnName[f] = -1
	}
	// The names of every location, resolved in one pass over the
	// locations before the walk: nodes are many times more than
	// locations, and a lookup in the walk reads one small array where the
	// location's lines would be two reads far apart.
	locName := growScratch(sc.locName, len(p.Locations))
	sc.locName = locName
	sc.inlined = sc.inlined[:0]
	for l := range locName {
		locName[l] = sc.resolveLocation(p, int32(l))
	}

	// The nodes staged, room made at once for about as many as the
	// partition would make on its own (inlined lines add a tenth on the
	// bench bucket) less those of the tree: grown by doubling, the
	// staging arrays of a first query's builds were 12 MB of garbage.
	room := max(0, n+n/4-treeNodes)
	st := walkStep{nn: nn, tree: int32(treeNodes), last: int32(treeNodes) - 1,
		parent: slices.Grow(sc.parent[:0], room), name: slices.Grow(sc.name[:0], room), children: children, reached: reached}
	// Nodes are walked chain by chain (see symdb.StackTree.Branches): only
	// the first node of a chain reads its parent's name node.
	marks, far := p.Tree.Branches()
	if loc16, loc32 := p.Tree.Locations(); loc16 != nil {
		walkChains(&st, sc, marks, far, loc16, nodeOf)
	} else {
		walkChains(&st, sc, marks, far, loc32, nodeOf)
	}
	sc.nodeOf, sc.parent, sc.name, sc.reached = nodeOf, st.parent, st.name, reached
	own := len(st.parent)
	for _, w := range reached {
		own += bits.OnesCount64(w)
	}
	return own
}

// walkChains is the loop of walk over the nodes of a partition, whose
// locations are locs, leaving the name node of node i in nodeOf[i]. A
// chain is a marked node and the unmarked ones after it, each a child of
// the node before. Within a chain, a walk that made a node makes every
// following one, as a new node has no children; and a walk over a tree
// that the partition's stacks made (a shared tree, a partition walked
// again) mostly steps to the node after cur. Both run in loops of their
// own that hold their few values in registers, and any other step goes
// through walkStep.step: in one loop for every node, the step's state was
// kept on the stack, and a walk took 7 to 21% longer.
func walkChains[L uint16 | int32](st *walkStep, sc *nameTreeScratch, marks []uint64, far []int32, locs []L, nodeOf []int32) {
	n := len(locs)
	nodeOf = nodeOf[:n]
	locName := sc.locName
	parentOf := st.nn.parent[:st.tree]
	name16, name32 := st.nn.name16, st.nn.name32
	reached := st.reached
	fi, cur := 0, int32(0)
	for i := 0; i < n; {
		if marks[i>>6]&(1<<(i&63)) != 0 {
			par := far[fi]
			fi++
			if par < 0 {
				nodeOf[i] = 0 // a chunk root is the empty stack
				cur = 0
				i++
				continue
			}
			cur = nodeOf[par]
		}
		cur = st.step(sc, cur, locName[locs[i]])
		nodeOf[i] = cur
		i++
		end := nextMark(marks, i, n)
		for i < end {
			if cur == st.last {
				// Making nodes: each is the child of the one made before.
				parent, name, last := st.parent, st.name, st.last
				for ; i < end; i++ {
					nm := locName[locs[i]]
					if nm < 0 {
						break
					}
					parent = append(parent, last)
					name = append(name, nm)
					last++
					nodeOf[i] = last
				}
				st.parent, st.name, st.last, cur = parent, name, last, last
			} else {
				// Following the tree's nodes: the child of cur is the node
				// after it.
				for ; i < end; i++ {
					nm := locName[locs[i]]
					g := cur + 1
					if nm < 0 || int(g) >= len(parentOf) || parentOf[g] != cur {
						break
					}
					if name16 != nil {
						if int32(name16[g]) != nm {
							break
						}
					} else if name32[g] != nm {
						break
					}
					reached[g>>6] |= 1 << (g & 63)
					cur = g
					nodeOf[i] = g
				}
			}
			if i < end {
				cur = st.step(sc, cur, locName[locs[i]])
				nodeOf[i] = cur
				i++
			}
		}
	}
}

// nextMark returns the first node from i on whose bit is set in marks, or
// n if there is none before n.
func nextMark(marks []uint64, i, n int) int {
	w := i >> 6
	if w >= len(marks) {
		return n
	}
	if word := marks[w] >> (i & 63); word != 0 {
		return min(i+bits.TrailingZeros64(word), n)
	}
	for w++; w < len(marks); w++ {
		if marks[w] != 0 {
			return min(w*64+bits.TrailingZeros64(marks[w]), n)
		}
	}
	return n
}

// walkStep is the state of a walk as it steps from name nodes to their
// children: the tree walked, and the nodes staged so far.
type walkStep struct {
	nn       *nameNodes
	tree     int32 // nodes in nn
	last     int32 // the node made last: nn's last, or the last staged
	parent   []int32
	name     []int32
	children *childIndex
	reached  []uint64
}

// step returns the name node that a node of location name nm (an entry
// of nameTreeScratch.locName) has when its parent's is cur, staging what
// the tree lacks.
func (st *walkStep) step(sc *nameTreeScratch, cur, nm int32) int32 {
	switch {
	case nm >= 0:
		return st.child(cur, nm)
	case nm <= locInlined:
		k := int(locInlined - nm)
		for _, f := range sc.inlined[k+1 : k+1+int(sc.inlined[k])] {
			cur = st.child(cur, f)
		}
	}
	return cur // a location without lines maps to its parent's node
}

// child returns the child of cur named nm, staging it if need be. The
// node made last has no child yet. Otherwise the node made right after
// cur is tried first (see the index in walk).
func (st *walkStep) child(cur, nm int32) int32 {
	if cur != st.last {
		if g := cur + 1; g < st.tree {
			if st.nn.parent[g] == cur && st.nn.nameOf(g) == nm {
				st.reached[g>>6] |= 1 << (g & 63)
				return g
			}
		} else if k := g - st.tree; st.parent[k] == cur && st.name[k] == nm {
			return g
		}
		if c := st.children.get(cur, nm); c >= 0 {
			if c < st.tree {
				st.reached[c>>6] |= 1 << (c & 63)
			}
			return c
		}
	}
	c := st.last + 1
	st.parent = append(st.parent, cur)
	st.name = append(st.name, nm)
	if cur != st.last {
		st.children.put(cur, nm, c)
	}
	st.last = c
	return c
}

// resolveLocation returns the entry of location loc of p in sc.locName,
// filing the names of its inlined lines in sc.inlined.
func (sc *nameTreeScratch) resolveLocation(p *symdb.Partition, loc int32) int32 {
	switch lines := p.Locations[loc].Lines; len(lines) {
	case 0:
		return locNoLines
	case 1:
		return sc.functionName(p, lines[0].FunctionID)
	default:
		k := len(sc.inlined)
		sc.inlined = append(sc.inlined, int32(len(lines)))
		for j := len(lines) - 1; j >= 0; j-- {
			sc.inlined = append(sc.inlined, sc.functionName(p, lines[j].FunctionID))
		}
		return locInlined - int32(k)
	}
}

// functionName returns the index in sc.names of the name of function fn
// of p, adding the name if it is new.
func (sc *nameTreeScratch) functionName(p *symdb.Partition, fn uint32) int32 {
	if nm := sc.fnName[fn]; nm >= 0 {
		return nm
	}
	s := p.Strings[p.Functions[fn].Name]
	h := nameHash(s)
	nm := sc.nameIDs.find(sc.names, h, s)
	if nm < 0 {
		nm = int32(len(sc.names))
		sc.names = append(sc.names, s)
		sc.newHashes = append(sc.newHashes, h)
		sc.nameIDs.add(h, nm)
	}
	sc.fnName[fn] = nm
	return nm
}

// grow returns nn with the nodes and names staged in sc by a walk over
// nn added, in new arrays of their exact size (nn itself when nothing was
// staged): nn may be in use by readers, and a tree that grows once per
// member has no use for spare capacity.
func (nt *nameTree) grow(nn *nameNodes, sc *nameTreeScratch) *nameNodes {
	if len(sc.parent) == 0 {
		// No new node: a name staged for a location no stack reaches
		// names no node, and is not kept.
		return nn
	}
	next := &nameNodes{
		parent:    slices.Concat(nn.parent, sc.parent),
		names:     nn.names,
		hashes:    nn.hashes,
		nameBytes: nn.nameBytes,
	}
	if added := sc.names[len(nn.names):]; len(added) > 0 {
		next.names = make([]string, len(sc.names))
		copy(next.names, nn.names)
		copy(next.names[len(nn.names):], added)
		if nt.copyNames {
			// One allocation for the names a partition adds.
			all := strings.Join(added, "")
			next.nameBytes += int64(len(all))
			for k, s := range added {
				next.names[len(nn.names)+k], all = all[:len(s)], all[len(s):]
			}
		}
		next.hashes = slices.Concat(nn.hashes, sc.newHashes)
	}
	if len(next.names) <= 1<<16 {
		name16 := make([]uint16, len(next.parent))
		copy(name16, nn.name16)
		for k, nm := range sc.name {
			name16[len(nn.parent)+k] = uint16(nm)
		}
		next.name16 = name16
	} else {
		name32 := make([]int32, len(nn.parent), len(next.parent))
		if nn.name16 != nil {
			for j, nm := range nn.name16 {
				name32[j] = int32(nm)
			}
		} else {
			copy(name32, nn.name32)
		}
		next.name32 = append(name32, sc.name...)
	}
	next.segments = growSegments(&nn.segments, next.parent)
	return next
}

// leafNames returns the name node of each leaf of a partition walked with
// sc.
func (sc *nameTreeScratch) leafNames(leaves *symdb.LeafIndex) []int32 {
	leafName := make([]int32, leaves.Count)
	for k, node := range leaves.All() {
		leafName[k] = sc.nodeOf[node]
	}
	return leafName
}

// add adds the stacks of p to nt and returns what p keeps of it, or nil
// when nt has members and adding p would break maxNameTreeGrowth.
func (nt *nameTree) add(p *symdb.Partition, leaves *symdb.LeafIndex, sc *nameTreeScratch) *partitionNames {
	nt.mu.Lock()
	defer nt.mu.Unlock()
	nn := nt.nodes.Load()
	own := sc.walk(p, nn)
	first := nt.minOwn == 0
	if first {
		nt.minOwn = own
	} else {
		if len(nn.parent)+len(sc.parent) > maxNameTreeGrowth*min(nt.minOwn, own) {
			return nil
		}
		nt.minOwn = min(nt.minOwn, own)
	}
	next := nt.grow(nn, sc)
	nt.nodes.Store(next)
	pn := newPartitionNames(p, nt, sc.leafNames(leaves))
	pn.added = next.sizeBytes() - nn.sizeBytes()
	if first {
		pn.added += int64(unsafe.Sizeof(*nt)) + nn.sizeBytes()
	}
	return pn
}

func newPartitionNames(p *symdb.Partition, nt *nameTree, leafName []int32) *partitionNames {
	pn := &partitionNames{
		tree:      nt,
		leafName:  leafName,
		nodes:     p.Tree.Len(),
		locations: len(p.Locations),
		functions: len(p.Functions),
		strs:      len(p.Strings),
		stacks:    p.Tree.ID(),
	}
	return pn
}

// buildNameTree returns the names of p in a name tree of its own. The
// name node of every partition node is left in scratch.nodeOf.
func buildNameTree(p *symdb.Partition, leaves *symdb.LeafIndex, scratch *nameTreeScratch) *partitionNames {
	return newNameTree(false).add(p, leaves, scratch)
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

// nameTreeKey is the key of a partition's names among the values derived
// from the partition.
type nameTreeKey struct{}

// partitionNameTree returns the names of p, made on first use and kept
// with p, so that they live exactly as long as the partition does: in a
// tree shared through trees when it is not nil, else in one of p's own.
func partitionNameTree(p *symdb.Partition, trees *NameTrees, scratch *nameTreeScratch) *partitionNames {
	// Outside Derived's build: it holds the partition's lock.
	leaves := p.Leaves()
	build := func() any {
		if trees != nil {
			return trees.add(p, leaves, scratch)
		}
		return buildNameTree(p, leaves, scratch)
	}
	pn := p.Derived(nameTreeKey{}, build).(*partitionNames)
	if !pn.matches(p) {
		// Partitions are immutable; only hand-built test partitions grow.
		return buildNameTree(p, leaves, scratch)
	}
	return pn
}

type nodeMapKey struct{}

// partitionNodeMap returns the name node in pn's tree of every node of p,
// made on first use and kept with p. It walks p over the tree again, which
// finds every node there, and keeps only the node map: queries with values
// on inner nodes are rare, and a map for every partition would be 2 bytes
// per node at least.
func partitionNodeMap(p *symdb.Partition, pn *partitionNames, scratch *nameTreeScratch) *nodeMap {
	build := func() *nodeMap {
		if scratch.walk(p, pn.tree.nodes.Load()); len(scratch.parent) != 0 {
			panic(fmt.Sprintf("flamegraph: %d nodes of partition %d missing from its name tree", len(scratch.parent), p.Key))
		}
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
	seg               segmentScratch
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
// A caller that calls Trim now and then (after every garbage collection,
// say) has the sets dropped once none was lent for a whole interval.
//
// NOTE: a borrower must not wait on anything while it holds a set.
type ScratchPool struct {
	max      int
	mu       sync.Mutex
	returned sync.Cond // signalled by put; L is mu
	free     []*partitionScratch
	lent     int
	// lentSince reports whether a set was lent since the last Trim.
	lentSince bool
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
	sp.lentSince = true
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

// Trim drops the free sets unless one was lent since the last Trim: the
// arrays of queries no longer asked (flame graphs, while merged profiles
// are) are not carried for ever. Sets lent out stay theirs until put.
func (sp *ScratchPool) Trim() {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if !sp.lentSince {
		clear(sp.free)
		sp.free = sp.free[:0]
	}
	sp.lentSince = false
}

// partitionNameIDs returns t's table of name IDs for the first n names of
// nt: entry k is 1 + t's name ID of name k of nt, 0 while unknown. Each
// name of a name tree is interned at most once per Tree. A shared tree's
// names only grow, and name k keeps its meaning, so the table grows with
// them.
func (t *Tree) partitionNameIDs(nt *nameTree, n int) []int32 {
	key := weak.Make(nt)
	ids := t.partitionNames[key]
	if len(ids) < n {
		if t.partitionNames == nil {
			t.partitionNames = make(map[weak.Pointer[nameTree]][]int32)
		}
		ids = append(ids, make([]int32, n-len(ids))...)
		t.partitionNames[key] = ids
	}
	return ids
}

// addPartition adds the positive values of p to t through p's name tree,
// truncating the partition's own tree to maxNodes nodes first when
// maxNodes ≥ 1 (see AddPartitionTruncated). Only the nodes that survive
// are looked up in t.
//
// The nodes of a shared name tree that p's stacks do not reach get no
// value, so they have a total of 0 and are never kept: the result is that
// of a name tree of p alone.
func (t *Tree) addPartition(p *symdb.Partition, values partitionValues, maxNodes int64) {
	t.init()
	pn := partitionNameTree(p, t.nameTrees, &t.build)
	var nodes *nodeMap
	if values.node != nil {
		nodes = partitionNodeMap(p, pn, &t.build)
	}
	// Loaded after pn was made: the state covers p's nodes.
	nt := pn.tree.nodes.Load()
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

	if nodes == nil && values.leaf != nil {
		// Values on leaves alone, as queries have them: summed and cut
		// per segment.
		t.addLeafSegments(pn, nt, values.leaf, maxNodes, &sc.seg)
		return
	}

	// Self per name node; values of the empty stack are dropped.
	self := growScratch(sc.self, m)
	clear(self)
	if nodes != nil {
		nodes.addSelf(self, values.node)
	}
	if values.leaf != nil {
		pn.addLeafSelf(self, values.leaf)
	}
	self[0] = 0

	// Totals, children before parents. A node's total is never below a
	// child's, so the nodes whose total reaches minTotal are closed under
	// parents: they are the partition's truncated tree. minTotal is the
	// maxNodes-th largest total, or 1 when fewer nodes have a positive
	// total (then every one of them is kept).
	total := growScratch(sc.total, m)
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
	dst := growScratch(sc.dst, m)
	dst[0] = 0
	cut := minTotal > 1
	kids := sc.kids
	if cut {
		kids = growScratch(kids, m)
	}
	kept := sc.kept[:0]
	ids := t.partitionNameIDs(pn.tree, len(nt.names))
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
