package flamegraph

// childIndex finds the child of a node by a dense 32-bit key (a name ID in
// a Tree, a location ID in a stack trie). It is an open-addressing hash
// table over two flat slices, so lookups and inserts allocate nothing
// except when the table grows.
type childIndex struct {
	keys  []uint64 // parent<<32 | key, plus one; 0 marks an empty slot
	vals  []int32
	count int
	shift uint8 // 64 - log2(len(keys))
}

const childIndexMinSize = 64

// reset empties the index, keeping its capacity.
func (ix *childIndex) reset() {
	clear(ix.keys)
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
	mask := len(ix.keys) - 1
	for i := ix.slot(k); ; i = (i + 1) & mask {
		switch ix.keys[i] {
		case k:
			return ix.vals[i]
		case 0:
			return -1
		}
	}
}

// put stores node for (parent, key), which must not be present yet.
func (ix *childIndex) put(parent, key, node int32) {
	if (ix.count+1)*2 > len(ix.keys) {
		ix.grow()
	}
	ix.insert(childKey(parent, key), node)
	ix.count++
}

func (ix *childIndex) insert(k uint64, node int32) {
	mask := len(ix.keys) - 1
	i := ix.slot(k)
	for ix.keys[i] != 0 {
		i = (i + 1) & mask
	}
	ix.keys[i] = k
	ix.vals[i] = node
}

func (ix *childIndex) grow() {
	size := 2 * len(ix.keys)
	if size < childIndexMinSize {
		size = childIndexMinSize
	}
	ix.resize(size)
}

func (ix *childIndex) resize(size int) {
	oldKeys, oldVals := ix.keys, ix.vals
	ix.keys = make([]uint64, size)
	ix.vals = make([]int32, size)
	ix.shift = uint8(64 - log2(size))
	for i, k := range oldKeys {
		if k != 0 {
			ix.insert(k, oldVals[i])
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
