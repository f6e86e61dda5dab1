package flamegraph

import "slices"

// childIndex finds the child of a node by a dense 32-bit key (a name ID in
// a Tree, a location ID in a stack trie). It is an open-addressing hash
// table over one flat slice whose slots hold key and value side by side,
// so a probe touches one cache line, and lookups and inserts allocate
// nothing except when the table grows.
type childIndex struct {
	slots []childSlot
	count int
	shift uint8 // 64 - log2(len(slots))
}

// childSlot is one entry: key is parent<<32 | child key, plus one, so that
// 0 marks an empty slot.
type childSlot struct {
	key uint64
	val int32
}

const childIndexMinSize = 64

// reset empties the index, keeping its capacity.
func (ix *childIndex) reset() {
	clear(ix.slots)
	ix.count = 0
}

func childKey(parent, key int32) uint64 {
	return (uint64(uint32(parent))<<32 | uint64(uint32(key))) + 1
}

func (ix *childIndex) slot(k uint64) int {
	// Fibonacci hashing: the high bits of the product are well mixed.
	return int((k * 0x9E3779B97F4A7C15) >> ix.shift)
}

// get returns the node stored for (parent, key), or -1.
func (ix *childIndex) get(parent, key int32) int32 {
	if ix.count == 0 {
		return -1
	}
	k := childKey(parent, key)
	mask := len(ix.slots) - 1
	for i := ix.slot(k); ; i = (i + 1) & mask {
		s := &ix.slots[i]
		switch s.key {
		case k:
			return s.val
		case 0:
			return -1
		}
	}
}

// put stores node for (parent, key), which must not be present yet.
func (ix *childIndex) put(parent, key, node int32) {
	if (ix.count+1)*2 > len(ix.slots) {
		ix.grow()
	}
	ix.insert(childKey(parent, key), node)
	ix.count++
}

func (ix *childIndex) insert(k uint64, node int32) {
	mask := len(ix.slots) - 1
	i := ix.slot(k)
	for ix.slots[i].key != 0 {
		i = (i + 1) & mask
	}
	ix.slots[i] = childSlot{key: k, val: node}
}

func (ix *childIndex) grow() {
	size := 2 * len(ix.slots)
	if size < childIndexMinSize {
		size = childIndexMinSize
	}
	ix.resize(size)
}

func (ix *childIndex) resize(size int) {
	old := ix.slots
	ix.slots = make([]childSlot, size)
	ix.shift = uint8(64 - log2(size))
	for _, s := range old {
		if s.key != 0 {
			ix.insert(s.key, s.val)
		}
	}
}

func log2(n int) int {
	l := 0
	for 1<<l < n {
		l++
	}
	return l
}

// siblingIndex finds a node's child by a dense 32-bit key (a name ID) in a
// tree whose nodes are numbered in creation order. Most nodes have a few
// children, found faster by walking a list of siblings than by probing a
// hash table that is larger than the cache; each link holds the sibling's
// key next to the next sibling, so a step of the walk reads one place. The
// children of a node with more than wideFanout children are also kept in
// a childIndex.
//
// Node 0 is the root and exists after reset; every other node is added
// through add, in node order.
type siblingIndex struct {
	head []siblingHead // per node
	link []siblingLink
	wide childIndex
}

// siblingHead is a node's first child (-1 for none) and its number of
// children, side by side: a lookup reads both.
type siblingHead struct{ first, count int32 }

// siblingLink is a node's key and its next sibling (-1 for none).
type siblingLink struct{ next, key int32 }

const wideFanout = 16

// reset empties the index down to node 0 and makes room for n nodes.
func (ix *siblingIndex) reset(n int) {
	ix.head = append(slices.Grow(ix.head[:0], n), siblingHead{first: -1})
	ix.link = append(slices.Grow(ix.link[:0], n), siblingLink{next: -1, key: -1})
	ix.wide.reset()
}

// get returns the child of node cur whose key is key, or -1.
func (ix *siblingIndex) get(cur, key int32) int32 {
	h := ix.head[cur]
	if h.count > wideFanout {
		return ix.wide.get(cur, key)
	}
	for c := h.first; c >= 0; {
		l := ix.link[c]
		if l.key == key {
			return c
		}
		c = l.next
	}
	return -1
}

// grow makes room for n more nodes.
func (ix *siblingIndex) grow(n int) {
	ix.head = slices.Grow(ix.head, n)
	ix.link = slices.Grow(ix.link, n)
}

// add records node c, the next node, with key key, as a new child of cur.
func (ix *siblingIndex) add(cur, c, key int32) {
	ix.head = append(ix.head, siblingHead{first: -1})
	h := &ix.head[cur]
	ix.link = append(ix.link, siblingLink{next: h.first, key: key})
	h.first = c
	h.count++
	switch k := h.count; {
	case k == wideFanout+1:
		for s := h.first; s >= 0; s = ix.link[s].next {
			ix.wide.put(cur, ix.link[s].key, s)
		}
	case k > wideFanout+1:
		ix.wide.put(cur, key, c)
	}
}
