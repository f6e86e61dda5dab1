package flamegraph

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
