package flamegraph

import (
	"fmt"
	"strings"

	"github.com/cinder-profiling/cinder/pkg/symdb"
)

// Pyroscope's v1 read path truncates a flame graph in stages, each with the
// request's node budget (api.md §6.5.3):
//
//  1. a store builds the call tree of every symdb partition of every block
//     on its own and truncates it (AddPartitionTruncated);
//  2. the store merges those trees and truncates the result (Truncate);
//  3. the querier truncates the merged answer of its stores again
//     (Truncate once more);
//  4. the frontend merges the answers of its sub-ranges and lays the flame
//     graph out with the budget as the client sent it (FlameGraph).
//
// Each stage keeps the nodes whose total reaches the budget-th largest
// total of its own tree, so values near the cut-off depend on the stages.

// AddPartitionTruncated is AddPartition for one store's view of one
// partition: the partition's own call tree (frames merged by name, as in
// AddPartition) is truncated to maxNodes nodes before it is added to t.
// When the partition's tree has more than maxNodes nodes, a node is kept
// when its total reaches the maxNodes-th largest total of the partition's
// tree; the totals of the dropped children of a kept node (or of the
// virtual root) are added to its child named "other", created if needed.
// Unlike Truncate, a function named "other" gets no special treatment at
// this stage. maxNodes < 1 adds the partition whole.
func (t *Tree) AddPartitionTruncated(p *symdb.Partition, nodeSelf []int64, maxNodes int64) error {
	n := p.Tree.Len()
	if len(nodeSelf) != n {
		return fmt.Errorf("partition %d: %d nodes, %d values: %w",
			p.Key, n, len(nodeSelf), ErrPartitionShape)
	}
	t.addPartition(p, partitionValues{node: nodeSelf}, max(maxNodes, 0))
	return nil
}

// AddLeavesTruncated is AddPartitionTruncated for values summed per leaf
// of p's stack tree: leafSelf[k] is the value of leaf k of p.Leaves(), and
// innerSelf, when not nil, holds the values of the other nodes, one per
// node of p. Leaves are an eighth of the nodes, and only they are visited
// when innerSelf is nil.
func (t *Tree) AddLeavesTruncated(p *symdb.Partition, leafSelf, innerSelf []int64, maxNodes int64) error {
	n := p.Tree.Len()
	leaves := p.Leaves()
	if len(leafSelf) != leaves.Count || (innerSelf != nil && len(innerSelf) != n) {
		return fmt.Errorf("partition %d: %d nodes, %d leaves, %d leaf values, %d inner values: %w",
			p.Key, n, leaves.Count, len(leafSelf), len(innerSelf), ErrPartitionShape)
	}
	t.addPartition(p, partitionValues{node: innerSelf, leaf: leafSelf}, max(maxNodes, 0))
	return nil
}

// maxKeptNames bounds the name table a reset tree keeps (see Reset).
const maxKeptNames = 1 << 18

// Reset empties the tree and keeps its memory, so that a tree can be
// reused for the next query instead of growing a new one. It also keeps
// its name table, up to maxKeptNames names, and the name IDs it resolved
// for partitions that are still in memory: a query over the same
// partitions then interns no name again. Kept names are copied, so that
// they do not hold on to the memory of the partitions they came from.
func (t *Tree) Reset() {
	if len(t.names) > maxKeptNames {
		t.dropNames()
	}
	// The name index holds IDs, not strings: it is not touched.
	for id := t.keptNames; id < len(t.names); id++ {
		t.names[id] = strings.Clone(t.names[id])
	}
	t.keptNames = len(t.names)
	for nt := range t.partitionNames {
		if nt.Value() == nil {
			delete(t.partitionNames, nt)
		}
	}
	for src := range t.translations {
		if src.Value() == nil {
			delete(t.translations, src)
		}
	}
	t.parent = append(t.parent[:0], -1)
	t.name = append(t.name[:0], -1)
	t.self = append(t.self[:0], 0)
	t.total = append(t.total[:0], 0)
	t.dirty = false
	t.children.reset(0)
	// The name-tree build scratch is megabytes and only needed while
	// partitions are new; a tree kept for reuse does not hold it.
	t.build = nameTreeScratch{}
}

// dropNames empties the name table of a tree without nodes, and every
// table of name IDs that refers to it.
func (t *Tree) dropNames() {
	t.names = t.names[:0]
	t.nameHashes = t.nameHashes[:0]
	t.nameIDs = nameIndex{}
	t.keptNames = 0
	t.namesGen++
	clear(t.partitionNames)
	clear(t.translations)
}

// Truncate returns the tree cut to maxNodes nodes the way Pyroscope's tree
// writer does it (MarshalTree): it equals UnmarshalTree(t.MarshalTree(
// maxNodes)) without the round trip. When t has at most maxNodes nodes, or
// maxNodes < 1, t itself is returned; otherwise t is left unchanged and a
// new tree is returned. A node is kept when its parent is kept and its
// total reaches the maxNodes-th largest total, or when it is named "other"
// (its own children are cut like any others); the totals of the dropped
// children of a kept node are added to its "other" child, created if
// needed.
func (t *Tree) Truncate(maxNodes int64) *Tree {
	return t.TruncateTo(nil, maxNodes)
}

// TruncateTo is Truncate building the cut tree in dst, an empty tree (a
// reset one, say), or in a new tree when dst is nil. It returns t, leaving
// dst untouched, when there is nothing to cut.
func (t *Tree) TruncateTo(dst *Tree, maxNodes int64) *Tree {
	t.computeTotals()
	if maxNodes < 1 || int64(t.Len()) <= maxNodes {
		return t
	}
	if dst == nil {
		dst = NewTree()
	}
	dst.mergeTruncated(t, maxNodes, true)
	return dst
}

// mergeTruncated adds src truncated to maxNodes nodes to t: a node of src
// is kept when its parent is kept and its total reaches the maxNodes-th
// largest total of src (or, with keepOther, when it is named "other");
// the totals of a kept node's dropped children are added to the self of
// its child named "other". src must have more than maxNodes nodes.
func (t *Tree) mergeTruncated(src *Tree, maxNodes int64, keepOther bool) {
	src.computeTotals()
	t.init()
	minTotal := src.minTotal(maxNodes)
	otherID := int32(-1)
	if keepOther {
		otherID = src.lookupName(otherName)
	}
	n := len(src.parent)
	ids := t.nameIDsOf(src)
	// nodeMap[j] is the node of t that src node j went to, -1 if dropped.
	nodeMap := make([]int32, n)
	dropped := make([]int64, n) // per kept src node: its dropped children
	for j := 1; j < n; j++ {
		par := src.parent[j]
		dst := nodeMap[par]
		if dst < 0 {
			nodeMap[j] = -1
			continue
		}
		sn := src.name[j]
		if src.total[j] < minTotal && sn != otherID {
			nodeMap[j] = -1
			dropped[par] += src.total[j]
			continue
		}
		name := t.internAt(src.names, src.nameHashes, ids, sn)
		c := t.child(dst, name)
		nodeMap[j] = c
		t.self[c] += src.self[j]
	}
	var other int32 = -1
	for j := 0; j < n; j++ {
		if dropped[j] == 0 {
			continue
		}
		if other < 0 {
			other = t.intern(otherName)
		}
		c := t.child(nodeMap[j], other)
		t.self[c] += dropped[j]
	}
	t.dirty = true
}
