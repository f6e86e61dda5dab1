package flamegraph

import (
	"cmp"
	"math/bits"
	"slices"
)

// nameSegments divides the nodes of a nameNodes into chains: a segment is
// a run of nodes i..j where each node but the last has a single child, the
// node after it. A name tree is made mostly in depth-first order, so its
// nodes form few chains (22k segments for 140k nodes on the bench bucket),
// and a partition whose values sit on the last nodes of segments, as
// leaves do, gives every node of a segment the same total. addLeafSegments
// sums, cuts and walks a partition's values per segment, not per node.
//
// The root is a segment of its own, segment 0. A segment's first node is
// a child of the last node of its parent segment (a node with a child
// other than the next has its segment end there), and parent segments
// come before their children.
type nameSegments struct {
	// start[s] is the first node of segment s, and start[len-1] the
	// number of nodes.
	start []int32
	// parent[s] is the segment of the parent of segment s's first node;
	// -1 for the root's.
	parent []int32
	// first marks the first node of every segment, with the number of
	// segments before each word, to number a node's segment.
	first []segmentWord
}

type segmentWord struct {
	bits uint64
	rank uint32
}

// newNameSegments divides the nodes with the given parents into segments.
func newNameSegments(parent []int32) nameSegments {
	return growSegments(nil, parent)
}

// growSegments divides the nodes with the given parents into segments,
// where prev (nil for none) are those of the first of them: the state a
// name tree grew from. Growing only adds segment starts, so prev's are
// kept; when no old segment is split, its segments and their parents are
// too, and only the new nodes are looked at.
func growSegments(prev *nameSegments, parent []int32) nameSegments {
	m := int32(len(parent))
	var old int32
	sg := nameSegments{first: make([]segmentWord, (m+63)/64)}
	if prev != nil {
		old = prev.start[len(prev.start)-1]
		copy(sg.first, prev.first)
	}
	isStart := func(j int32) bool { return sg.first[j>>6].bits&(1<<(j&63)) != 0 }
	mark := func(j int32) { sg.first[j>>6].bits |= 1 << (j & 63) }
	// A segment starts at the root, at its first child, at a node that
	// does not follow its parent, and at the node after a parent of such
	// a node (which then has two children, or does not have the node
	// after it as a child, which starts a segment anyway).
	split := false
	for j := old; j < m; j++ {
		if j <= 1 {
			mark(j)
			continue
		}
		if p := parent[j]; p != j-1 {
			mark(j)
			if p+1 < old && !isStart(p+1) {
				split = true
			}
			mark(p + 1)
		}
	}
	var rank uint32
	for w := range sg.first {
		sg.first[w].rank = rank
		rank += uint32(bits.OnesCount64(sg.first[w].bits))
	}
	n := int(rank)
	// The segments whose starts and parents are new: all of them, or
	// those that start among the new nodes.
	from, s := int32(0), 0
	if prev != nil && !split {
		from, s = old, len(prev.parent)
	}
	sg.start = make([]int32, s, n+1)
	sg.parent = make([]int32, s, n)
	if s > 0 {
		copy(sg.start, prev.start[:s])
		copy(sg.parent, prev.parent)
	}
	for w := int(from >> 6); w < len(sg.first); w++ {
		b := sg.first[w].bits
		if w == int(from>>6) {
			b &^= 1<<(from&63) - 1 // starts before from are kept already
		}
		for ; b != 0; b &= b - 1 {
			sg.start = append(sg.start, int32(w*64+bits.TrailingZeros64(b)))
		}
	}
	sg.start = append(sg.start, m)
	for ; s < n; s++ {
		if s == 0 {
			sg.parent = append(sg.parent, -1)
			continue
		}
		ps, _ := sg.of(parent[sg.start[s]])
		sg.parent = append(sg.parent, ps)
	}
	return sg
}

// of returns the segment of node j, and whether j is its last node.
func (sg *nameSegments) of(j int32) (int32, bool) {
	w := sg.first[j>>6]
	s := int32(w.rank) + int32(bits.OnesCount64(w.bits&(2<<(j&63)-1))) - 1
	return s, sg.start[s+1] == j+1
}

// count is the number of segments.
func (sg *nameSegments) count() int { return len(sg.parent) }

func (sg *nameSegments) sizeBytes() int64 {
	return sliceBytes(sg.start) + sliceBytes(sg.parent) + sliceBytes(sg.first)
}

// nodeValue is a value on a name node.
type nodeValue struct {
	node  int32
	value int64
}

// segmentScratch holds the per-segment arrays of addLeafSegments, reused
// between calls.
type segmentScratch struct {
	// Per segment: the values of its last node, the total of its first,
	// and what its last node's children have beside its kept child
	// segments.
	self, total, left []int64
	// dst is the node of t that a segment's last node went to, -1 when
	// the cut dropped it.
	dst []int32
	// Values on nodes that end no segment, by node.
	inner []nodeValue
	// Runs of nodes of one total: the total and the number of nodes.
	runTotal []int64
	runNodes []int32
	// The segments whose first node's total may reach the cut.
	cands  []int32
	hist   totalHistogram
	others []nodeValue // node of t, value of its child "other"
}

// addLeafSegments adds to t the positive values of a partition's leaves
// (leaf[k] is on name node pn.leafName[k] of nt), truncating the
// partition's name tree to maxNodes nodes when maxNodes ≥ 1. It does per
// segment of nt what addPartition does per name node with values on any
// node, and keeps the same nodes with the same values: a partition pays
// for its tree's segments and the nodes it keeps, not for every node.
func (t *Tree) addLeafSegments(pn *partitionNames, nt *nameNodes, leaf []int64, maxNodes int64, sc *segmentScratch) {
	sg := &nt.segments
	n := sg.count()
	self := growScratch(sc.self, n)
	clear(self)
	inner := sc.inner[:0]
	for k, v := range leaf {
		if v <= 0 {
			continue
		}
		j := pn.leafName[k]
		if j == 0 {
			continue // the empty stack's values are dropped
		}
		if s, last := sg.of(j); last {
			self[s] += v
		} else {
			inner = append(inner, nodeValue{j, v})
		}
	}
	if len(inner) > 1 {
		// One entry per node, in node order, as the walk below reads them.
		slices.SortFunc(inner, func(a, b nodeValue) int { return cmp.Compare(a.node, b.node) })
		w := 0
		for _, e := range inner[1:] {
			if e.node == inner[w].node {
				inner[w].value += e.value
			} else {
				w++
				inner[w] = e
			}
		}
		inner = inner[:w+1]
	}

	// Totals of each segment's first node, children before parents. A
	// segment's nodes have its first node's total down to the first node
	// with values of its own, then less by those values. The nodes kept
	// are those whose total reaches minTotal: the maxNodes-th largest node
	// total, or 1 when fewer nodes have a positive total.
	total := growScratch(sc.total, n)
	copy(total, self)
	for _, e := range inner {
		s, _ := sg.of(e.node)
		total[s] += e.value
	}
	cutting := maxNodes >= 1 && int64(sg.start[n])-1 >= maxNodes
	h := &sc.hist
	// Without values inside segments, a segment's nodes are a run of
	// one total, counted in the histogram as soon as the total is known.
	runsAreSegments := cutting && len(inner) == 0
	if cutting {
		clear(h[:])
	}
	for s := n - 1; s > 0; s-- {
		v := total[s]
		total[sg.parent[s]] += v
		if runsAreSegments {
			h[bucketOf(v)] += sg.start[s+1] - sg.start[s]
		}
	}
	runTotal, runNodes := sc.runTotal[:0], sc.runNodes[:0]
	if cutting && !runsAreSegments {
		next := 0 // in inner
		for s := 1; s < n; s++ {
			at, v := sg.start[s], total[s]
			end := sg.start[s+1]
			for ; next < len(inner) && inner[next].node < end; next++ {
				e := inner[next]
				runTotal, runNodes = append(runTotal, v), append(runNodes, e.node+1-at)
				at, v = e.node+1, v-e.value
			}
			runTotal, runNodes = append(runTotal, v), append(runNodes, end-at)
		}
		for r, v := range runTotal {
			h[bucketOf(v)] += runNodes[r]
		}
	}
	// The k-th largest total is at or above floor: only the runs there
	// are selected among, and only the segments there may be kept.
	floor := int64(1)
	if cutting {
		floor = h.floorOfKth(int(maxNodes))
	}
	cands := nodesFrom(sc.cands[:0], total, floor)
	minTotal := int64(1)
	if cutting {
		var near int
		var above int64
		if runsAreSegments {
			for _, s := range cands {
				runTotal = append(runTotal, total[s])
				runNodes = append(runNodes, sg.start[s+1]-sg.start[s])
				above += int64(runNodes[near])
				near++
			}
		} else {
			for r, v := range runTotal {
				if v >= floor {
					runTotal[near], runNodes[near] = v, runNodes[r]
					above += int64(runNodes[near])
					near++
				}
			}
		}
		if above >= maxNodes {
			minTotal = max(1, kthLargestWeighted(runTotal[:near], runNodes[:near], maxNodes))
		}
	}
	sc.runTotal, sc.runNodes, sc.cands = runTotal, runNodes, cands
	cut := minTotal > 1

	// The kept nodes, parents first. A segment whose first node is kept
	// has its parent segment's last node kept: totals do not grow down the
	// tree. dst and left are set for the root and the segments whose
	// first node is kept: left is what the last node's children have, less
	// the totals of the kept child segments, which come after it.
	ids := t.partitionNameIDs(pn.tree, len(nt.names))
	dst := growScratch(sc.dst, n)
	left := growScratch(sc.left, n)
	dst[0], left[0] = 0, total[0]
	others := sc.others[:0]
	next := 0 // in inner
	for _, s := range cands {
		v := total[s]
		if v < minTotal {
			continue
		}
		first, last := sg.start[s], sg.start[s+1]-1
		for next < len(inner) && inner[next].node < first {
			next++
		}
		left[sg.parent[s]] -= v
		cur := dst[sg.parent[s]]
		dst[s] = -1
		for i := first; ; i++ {
			c := t.child(cur, t.internAt(nt.names, nt.hashes, ids, nt.nameOf(i)))
			var own int64
			if i == last {
				own = self[s]
			} else if next < len(inner) && inner[next].node == i {
				own = inner[next].value
				next++
			}
			t.self[c] += own
			v -= own // the total of node i+1, or what node i's children have
			cur = c
			if i == last {
				dst[s], left[s] = c, v
				break
			}
			if v < minTotal {
				// Node i+1 and the rest of the segment are cut: node i
				// keeps them as its child "other".
				if cut && v != 0 {
					others = append(others, nodeValue{c, v})
				}
				break
			}
		}
	}
	if cut {
		// The dropped child segments of the root and of each kept last
		// node become its child "other".
		if v := left[0]; v != 0 {
			others = append(others, nodeValue{0, v})
		}
		for _, s := range cands {
			if total[s] < minTotal || dst[s] < 0 {
				continue
			}
			if v := left[s]; v != 0 {
				others = append(others, nodeValue{dst[s], v})
			}
		}
		if len(others) > 0 {
			other := t.intern(otherName)
			for _, o := range others {
				t.self[t.child(o.node, other)] += o.value
			}
		}
	}
	t.dirty = true
	sc.self, sc.total, sc.left, sc.dst, sc.inner, sc.others = self, total, left, dst, inner, others
}

// kthLargestWeighted returns the k-th largest of a multiset where vals[i]
// appears weights[i] times (weights positive, summing to k or more). The
// slices are reordered.
func kthLargestWeighted(vals []int64, weights []int32, k int64) int64 {
	lo, hi := 0, len(vals)-1
	seed := pivotSeed(len(vals))
	for lo < hi {
		pivot := pickPivot(vals, lo, hi, &seed)

		// Descending: [lo, lt) > pivot, [lt, gt] == pivot, (gt, hi] < pivot.
		lt, i, gt := lo, lo, hi
		var above, equal int64
		for i <= gt {
			switch v := vals[i]; {
			case v > pivot:
				vals[lt], vals[i] = vals[i], vals[lt]
				weights[lt], weights[i] = weights[i], weights[lt]
				above += int64(weights[lt])
				lt++
				i++
			case v < pivot:
				vals[i], vals[gt] = vals[gt], vals[i]
				weights[i], weights[gt] = weights[gt], weights[i]
				gt--
			default:
				equal += int64(weights[i])
				i++
			}
		}
		switch {
		case k <= above:
			hi = lt - 1
		case k <= above+equal:
			return pivot
		default:
			k -= above + equal
			lo = gt + 1
		}
	}
	return vals[lo]
}
