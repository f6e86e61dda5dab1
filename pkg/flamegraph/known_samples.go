package flamegraph

import (
	"math/bits"
	"slices"
)

// knownSamples maps the nodes of a partition to what a builder knows of
// their stacks: a sample number (see knownPartition), for the nodes that
// had a value in some profile the builder built. That is an eighth to a
// quarter of the nodes, so instead of an int32 per node it keeps a bit
// per node and the known samples alone, in node order: under 1.5 bits per
// node besides them.
//
// rank[w] counts the known nodes of the words of known before w, so that
// the sample of node i is samples[rank[i/64] + (known nodes below i in its
// word)]: a bit test and a popcount where an array per node takes a load.
type knownSamples struct {
	known   []uint64
	rank    []uint32
	samples []int32
	nodes   int
}

// nodeSample is a node whose sample a profile found (see
// knownSamples.add).
type nodeSample struct {
	node, sample int32
}

// newKnownSamples returns the knownSamples of a partition of the given
// number of nodes, none of them known.
func newKnownSamples(nodes int) knownSamples {
	words := (nodes + 63) / 64
	return knownSamples{known: make([]uint64, words), rank: make([]uint32, words), nodes: nodes}
}

// get returns the sample of node i, or -1 if none is known.
func (ks *knownSamples) get(i int32) int32 {
	return knownSample(ks.known, ks.rank, ks.samples, i)
}

// knownSample is get on the slices of a knownSamples, for a hot loop that
// loads them once.
func knownSample(known []uint64, rank []uint32, samples []int32, i int32) int32 {
	w, bit := uint32(i)/64, uint64(1)<<(uint32(i)%64)
	word := known[w]
	if word&bit == 0 {
		return -1
	}
	return samples[rank[w]+uint32(bits.OnesCount64(word&(bit-1)))]
}

// add makes the samples of learnt known, in one rebuild: nodes learn
// samples only in the profiles that bring stacks not seen before, and
// then many at once. No node of learnt may have a sample known already;
// the lists may be in any order.
func (ks *knownSamples) add(learnt [][]nodeSample) {
	n := 0
	for _, l := range learnt {
		n += len(l)
	}
	if n == 0 {
		return
	}
	// The new bits are set in a copy: the old ones say which old sample
	// is whose until the samples have moved.
	old, oldSamples := ks.known, ks.samples
	ks.known = slices.Clone(old)
	for _, l := range learnt {
		for _, ns := range l {
			ks.known[ns.node/64] |= 1 << (ns.node % 64)
		}
	}
	var count uint32
	for w, word := range ks.known {
		ks.rank[w] = count
		count += uint32(bits.OnesCount64(word))
	}
	ks.samples = make([]int32, count)
	j := 0
	for w, word := range old {
		for ; word != 0; word &= word - 1 {
			ks.samples[ks.index(w*64+bits.TrailingZeros64(word))] = oldSamples[j]
			j++
		}
	}
	for _, l := range learnt {
		for _, ns := range l {
			ks.samples[ks.index(int(ns.node))] = ns.sample
		}
	}
}

// index returns the position in samples of known node i.
func (ks *knownSamples) index(i int) int {
	w := i / 64
	return int(ks.rank[w]) + bits.OnesCount64(ks.known[w]&(1<<(i%64)-1))
}

// sizeBytes is the memory ks holds.
func (ks *knownSamples) sizeBytes() int64 {
	return sliceBytes(ks.known) + sliceBytes(ks.rank) + sliceBytes(ks.samples)
}
