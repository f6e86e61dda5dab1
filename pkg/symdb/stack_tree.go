package symdb

import (
	"fmt"
	"math"
	"math/bits"
	"slices"
)

// StackTree is the stack-trace tree of a partition, all chunks
// concatenated: node i has parent Parent(i) < i, or -1 for a chunk's root,
// and location Location(i). A stack is identified by its leaf node;
// walking parents up to a root gives its locations leaf first.
//
// It holds about 2.7 bytes per node where two []int32 held 8. Stacks are
// inserted root first, so most nodes (88% on the bench bucket) continue a
// chain: their parent is the node before them. One bit per node marks the
// others, roots and the first node of each branch, and only their parents
// are stored, in node order; a rank per 64 nodes finds a marked node's
// parent without a scan. Locations take 16 bits per node when every one
// fits, as they do in partitions of fewer than 65 536 locations.
//
// NOTE: a StackTree is immutable; copies share its arrays and may be read
// by any number of goroutines. The location of a root means nothing and
// is 0.
type StackTree struct {
	n int
	// Bit i%64 of jump[i/64] is set when node i is a root or its parent
	// is not i-1; that parent is then far[rank[i/64] + the set bits of
	// jump[i/64] below bit i%64]. far ends with a -1 that is no node's,
	// so that the position of any node is in range (see IsRoot).
	jump []uint64
	rank []int32
	far  []int32
	// The location of each node: loc16 when all fit 16 bits, else loc32;
	// the other is nil.
	loc16 []uint16
	loc32 []int32
	// maxLoc is the largest location of a non-root node, as a uint32 so
	// that a negative one is the largest (see checkLocations).
	maxLoc uint32
}

// StackTreeID identifies the arrays of a StackTree: trees that are copies
// of one another have equal IDs, others do not. The empty tree's ID is the
// zero value. Values derived from a tree keep its ID to tell that they
// were built from it.
type StackTreeID struct{ jump *uint64 }

// NewStackTree returns the tree whose node i has parent parents[i] and
// location locations[i]. Every parent must precede its node or be -1 (a
// root), and every node but a root must have a location ≥ 0; roots'
// locations are not read.
func NewStackTree(parents, locations []int32) (StackTree, error) {
	if len(parents) != len(locations) {
		return StackTree{}, fmt.Errorf("tree has %d parents but %d locations", len(parents), len(locations))
	}
	if len(parents) > math.MaxInt32 {
		return StackTree{}, fmt.Errorf("%d nodes overflow int32", len(parents))
	}
	for i, p := range parents {
		if p < -1 || int(p) >= i {
			return StackTree{}, fmt.Errorf("node %d has parent %d", i, p)
		}
		if p >= 0 && locations[i] < 0 {
			return StackTree{}, fmt.Errorf("node %d refers to location %d", i, locations[i])
		}
	}
	b := newStackTreeBuilder(len(parents))
	b.addNodes(parents, locations, 0)
	return b.finish(), nil
}

// MustStackTree is NewStackTree for trees known to be valid, tests' hand-
// built ones say; it panics on an invalid tree.
func MustStackTree(parents, locations []int32) StackTree {
	t, err := NewStackTree(parents, locations)
	if err != nil {
		panic(err)
	}
	return t
}

// Len returns the number of nodes.
func (t *StackTree) Len() int { return t.n }

// Parent returns the parent of node i, -1 for a root.
func (t *StackTree) Parent(i int32) int32 {
	w := t.jump[i>>6]
	bit := uint64(1) << (i & 63)
	if w&bit == 0 {
		return i - 1
	}
	return t.far[t.rank[i>>6]+int32(bits.OnesCount64(w&(bit-1)))]
}

// IsRoot reports whether node i is a root: Parent(i) < 0, without a
// branch, for loops over nodes that follow no pattern a branch predictor
// learns (leaves with values, say). It loads the far parent whether the
// node has one or not.
func (t *StackTree) IsRoot(i int32) bool {
	w := t.jump[i>>6]
	sh := uint(i & 63)
	far := t.far[t.rank[i>>6]+int32(bits.OnesCount64(w&(1<<sh-1)))]
	return w>>sh&uint64(uint32(far)>>31) != 0
}

// Location returns the location of node i; 0 for a root.
func (t *StackTree) Location(i int32) int32 {
	if t.loc16 != nil {
		return int32(t.loc16[i])
	}
	return t.loc32[i]
}

// Locations returns the location of every node, 0 for a root, in the
// tree's own array: loc16 when every location fits 16 bits, else loc32;
// the other is nil. For walks over every node in order, which read a
// plain slice faster than they would call Location. Callers must not
// modify it.
func (t *StackTree) Locations() (loc16 []uint16, loc32 []int32) {
	if t.loc16 != nil {
		return t.loc16[:t.n], nil
	}
	return nil, t.loc32[:t.n]
}

// AppendParents appends the parent of every node to dst, in node order,
// and returns the extended slice: for the walks over all nodes, which read
// a plain slice faster than they would call Parent.
func (t *StackTree) AppendParents(dst []int32) []int32 {
	start := len(dst)
	dst = slices.Grow(dst, t.n)[:start+t.n]
	out := dst[start:]
	for i := range out {
		out[i] = int32(i) - 1
	}
	far := t.far
	for w, word := range t.jump {
		base := w * 64
		for ; word != 0; word &= word - 1 {
			out[base+bits.TrailingZeros64(word)] = far[0]
			far = far[1:]
		}
	}
	return dst
}

// Branches returns the nodes that do not continue a chain and their
// parents, for walks over every node in order that need no parents array:
// bit i%64 of marks[i/64] is set when node i is a root or its parent is
// not i-1, and the k-th set bit's parent is parents[k] (-1 for a root).
// Every other node's parent is the node before it. The slices are the
// tree's own: callers must not modify them.
func (t *StackTree) Branches() (marks []uint64, parents []int32) {
	if t.n == 0 {
		return nil, nil
	}
	return t.jump, t.far[:len(t.far)-1] // far ends with a sentinel
}

// AppendLocations appends the location of every node to dst, in node
// order, and returns the extended slice.
func (t *StackTree) AppendLocations(dst []int32) []int32 {
	if t.loc16 == nil {
		return append(dst, t.loc32...)
	}
	start := len(dst)
	dst = slices.Grow(dst, t.n)[:start+t.n]
	out := dst[start:]
	for i, l := range t.loc16 {
		out[i] = int32(l)
	}
	return dst
}

// ID returns the identity of t's arrays.
func (t *StackTree) ID() StackTreeID {
	if len(t.jump) == 0 {
		return StackTreeID{}
	}
	return StackTreeID{&t.jump[0]}
}

// SizeBytes returns the bytes t's arrays hold.
func (t *StackTree) SizeBytes() int64 {
	return 8*int64(cap(t.jump)) + 4*int64(cap(t.rank)+cap(t.far)+cap(t.loc32)) + 2*int64(cap(t.loc16))
}

// checkLocations checks that every node but a root refers to one of
// nLocations locations.
func (t *StackTree) checkLocations(nLocations int) error {
	if uint64(t.maxLoc) < uint64(nLocations) {
		return nil
	}
	// Find the first bad node, for the error.
	for i := range int32(t.n) {
		if l := t.Location(i); t.Parent(i) >= 0 && (l < 0 || int(l) >= nLocations) {
			return fmt.Errorf("node %d refers to location %d of %d", i, l, nLocations)
		}
	}
	return nil
}

// stackTreeBuilder makes a StackTree from its nodes, added in node order.
type stackTreeBuilder struct {
	t StackTree
}

// newStackTreeBuilder returns a builder with room for n nodes; it grows
// past them if need be.
func newStackTreeBuilder(n int) *stackTreeBuilder {
	words := (n + 63) / 64
	return &stackTreeBuilder{t: StackTree{
		jump:  make([]uint64, 0, words),
		rank:  make([]int32, 0, words),
		far:   make([]int32, 0, n/8+1),
		loc16: make([]uint16, 0, n),
	}}
}

// add appends a node with the given parent and location; the caller has
// checked that -1 ≤ parent < Len.
func (b *stackTreeBuilder) add(parent, loc int32) {
	b.addNodes([]int32{parent}, []int32{loc}, 0)
}

// addNodes appends nodes with the given parents and locations, parents
// offset by base unless negative; the caller has checked that they are
// in range.
//
// NOTE: the loops do not branch on the nodes: whether a node continues a
// chain follows no pattern a branch predictor learns.
func (b *stackTreeBuilder) addNodes(parents, locs []int32, base int32) {
	t := &b.t
	locs = locs[:len(parents)]
	if t.loc32 == nil {
		n16 := len(t.loc16)
		var maxLoc uint32
		t.loc16, maxLoc = appendLocations(t.loc16, parents, locs, t.maxLoc)
		if maxLoc > math.MaxUint16 {
			// Some did not fit: again, in 32 bits.
			t.loc16 = t.loc16[:n16]
			b.widen()
		} else {
			t.maxLoc = maxLoc
		}
	}
	if t.loc32 != nil {
		t.loc32, t.maxLoc = appendLocations(t.loc32, parents, locs, t.maxLoc)
	}

	jump, rank := t.jump, t.rank
	// Every node's parent is written to far, and kept by counting it
	// when it is not the node before.
	nf := len(t.far)
	far := slices.Grow(t.far, len(parents))
	far = far[:cap(far)]
	i := int32(t.n)
	for len(parents) > 0 {
		bit := i & 63
		if bit == 0 {
			jump = append(jump, 0)
			rank = append(rank, int32(nf))
		}
		m := min(int(64-bit), len(parents))
		word, kept := markFar(parents[:m], far[nf:], i, base)
		jump[len(jump)-1] |= word << bit
		nf += kept
		i += int32(m)
		parents = parents[m:]
	}
	t.jump, t.rank, t.far = jump, rank, far[:nf]
	t.n = int(i)
}

// markFar writes the parents of the nodes i, i+1, ... (at most 64 of
// them), offset by base unless negative, to far, keeping those that are
// not the node before, and returns a word with bit k set for each kept
// parents[k], and how many were kept. far has room for every parent.
//
// It is kept out of addNodes, and out of line, so that the loop holds its
// few values in registers: inside addNodes it spilled them to the stack,
// and decoding a tree took a quarter longer.
//
//go:noinline
func markFar(parents, far []int32, i, base int32) (word uint64, kept int) {
	far = far[:len(parents)]
	prev := i - 1
	for k, par := range parents {
		par += base &^ (par >> 31)               // not a root's
		isFar := b2u(par != prev) | b2u(par < 0) // node 0 too
		word |= isFar << uint(k)
		far[kept] = par
		kept += int(isFar)
		prev++
	}
	return word, kept
}

// appendLocations appends locs to dst, 0 for the roots, and returns it with
// the largest location of the others, or maxLoc if larger.
func appendLocations[L uint16 | int32](dst []L, parents, locs []int32, maxLoc uint32) ([]L, uint32) {
	start := len(dst)
	dst = slices.Grow(dst, len(locs))[:start+len(locs)]
	out := dst[start:]
	parents = parents[:len(locs)]
	for j, l := range locs {
		l &^= parents[j] >> 31 // 0 for a root
		maxLoc = max(maxLoc, uint32(l))
		out[j] = L(l)
	}
	return dst, maxLoc
}

// b2u is 1 for true and 0 for false, which the compiler makes without a
// branch.
func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// widen moves the locations from 16 to 32 bits.
func (b *stackTreeBuilder) widen() {
	t := &b.t
	t.loc32 = make([]int32, len(t.loc16), cap(t.loc16))
	for i, l := range t.loc16 {
		t.loc32[i] = int32(l)
	}
	t.loc16 = nil
}

// finish returns the tree, its arrays trimmed to their lengths.
func (b *stackTreeBuilder) finish() StackTree {
	t := b.t
	if t.n == 0 {
		return StackTree{}
	}
	t.jump, t.rank, t.far = trim(t.jump), trim(t.rank), trim(append(t.far, -1))
	t.loc16, t.loc32 = trim(t.loc16), trim(t.loc32)
	return t
}

// trim returns s in an array of its length, copying it if it has spare
// capacity: the tree is kept for as long as its partition.
func trim[S ~[]E, E any](s S) S {
	if cap(s) == len(s) {
		return s
	}
	if len(s) == 0 {
		return nil
	}
	return slices.Clone(s)
}
