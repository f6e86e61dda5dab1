package symdb

import (
	"iter"
	"math/bits"
	"unsafe"
)

// LeafIndex numbers the leaves of a partition's stack tree, the nodes that
// are no node's parent, in node order. Samples sit on leaves (on the bench
// bucket, every one), and leaves are about an eighth of the nodes, so sums
// per leaf take an eighth of the memory of sums per node.
//
// Node i is a leaf when bit i%64 of Words[i/64].Bits is set; it is then
// leaf number Words[i/64].Rank plus the leaves below it in its word (see
// Leaf). A word and its rank share a cache line.
type LeafIndex struct {
	Words []LeafWord
	Count int // leaves in all
}

// LeafWord covers 64 nodes of a LeafIndex.
type LeafWord struct {
	Bits uint64
	Rank uint32 // leaves before the word's first node
}

// Leaf returns the leaf number of node i, if it is a leaf.
func (ix *LeafIndex) Leaf(i int32) (int, bool) {
	w := ix.Words[i>>6]
	bit := uint64(1) << (i & 63)
	return int(w.Rank) + bits.OnesCount64(w.Bits&(bit-1)), w.Bits&bit != 0
}

// All yields every leaf in node order: its leaf number and its node.
func (ix *LeafIndex) All() iter.Seq2[int, int32] {
	return func(yield func(int, int32) bool) {
		k := 0
		for w, lw := range ix.Words {
			for word := lw.Bits; word != 0; word &= word - 1 {
				if !yield(k, int32(w*64+bits.TrailingZeros64(word))) {
					return
				}
				k++
			}
		}
	}
}

// SizeBytes is what the index holds, for the partition cache.
func (ix *LeafIndex) SizeBytes() int64 {
	return int64(unsafe.Sizeof(*ix)) + int64(cap(ix.Words))*int64(unsafe.Sizeof(LeafWord{}))
}

type leafIndexKey struct{}

// Leaves returns the LeafIndex of p, built on first use and kept with p.
func (p *Partition) Leaves() *LeafIndex {
	ix := p.Derived(leafIndexKey{}, func() any { return NewLeafIndex(&p.Tree) }).(*LeafIndex)
	if len(ix.Words) != (p.Tree.Len()+63)/64 {
		// Partitions are immutable; only hand-built test partitions grow.
		return NewLeafIndex(&p.Tree)
	}
	return ix
}

// NewLeafIndex returns the LeafIndex of t.
func NewLeafIndex(t *StackTree) *LeafIndex {
	// A node has a child when the next node continues its chain (the next
	// node's jump bit is clear) or when it is a far parent.
	jump := t.jump
	words := make([]LeafWord, len(jump))
	for w := range words {
		next := uint64(1) << 63 // no node after the last
		if w+1 < len(jump) {
			next = jump[w+1] << 63
		}
		words[w].Bits = jump[w]>>1 | next
	}
	if tail := t.n % 64; tail != 0 {
		// The last node has no next node, and the bits past it no node.
		words[len(words)-1].Bits |= 1 << (tail - 1)
		words[len(words)-1].Bits &= 1<<tail - 1
	}
	for _, par := range t.far {
		if par >= 0 {
			words[par/64].Bits &^= 1 << (par % 64)
		}
	}
	count := 0
	for w := range words {
		words[w].Rank = uint32(count)
		count += bits.OnesCount64(words[w].Bits)
	}
	return &LeafIndex{Words: words, Count: count}
}
