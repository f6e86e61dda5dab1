package flamegraph

import "hash/maphash"

// nameSeed seeds every name hash of the process, so that a hash computed
// once, when a partition's name tree is built, serves every Tree that
// interns the name.
var nameSeed = maphash.MakeSeed()

// nameHash returns the hash of a function name that nameIndex files it by.
func nameHash(s string) uint32 {
	h := maphash.String(nameSeed, s)
	return uint32(h ^ h>>32)
}

// nameIndex finds the ID of a name in a name table (a slice of names
// indexed by ID) by the name's hash. It is an open-addressing hash table
// whose slots hold a name's hash beside its ID, so that it grows without
// hashing a name again and a probe compares names only when their hashes
// are equal. Callers keep each name's hash (see nameTree.hashes), and a
// name hashed once is looked up in any number of tables.
//
// The zero value is an empty index.
type nameIndex struct {
	slots []uint64 // hash<<32 | (ID + 1); 0 marks an empty slot
	count int
	shift uint8 // 64 - log2(len(slots))
}

const nameIndexMinSize = 64

// find returns the ID of s, whose hash is h, in names, or -1.
func (ix *nameIndex) find(names []string, h uint32, s string) int32 {
	if ix.count == 0 {
		return -1
	}
	mask := len(ix.slots) - 1
	for i := ix.slot(h); ; i = (i + 1) & mask {
		e := ix.slots[i]
		if e == 0 {
			return -1
		}
		if uint32(e>>32) == h {
			if id := int32(uint32(e)) - 1; names[id] == s {
				return id
			}
		}
	}
}

// add files name id, whose hash is h; the name must not be present yet.
func (ix *nameIndex) add(h uint32, id int32) {
	if (ix.count+1)*2 > len(ix.slots) {
		ix.resize(max(2*len(ix.slots), nameIndexMinSize))
	}
	ix.insert(uint64(h)<<32 | uint64(id+1))
	ix.count++
}

// reserve makes room for n names in all, so that adding them does not
// grow the index.
func (ix *nameIndex) reserve(n int) {
	size := nameIndexMinSize
	for size < 2*n {
		size *= 2
	}
	if size > len(ix.slots) {
		ix.resize(size)
	}
}

// reset empties the index, keeping its memory.
func (ix *nameIndex) reset() {
	clear(ix.slots)
	ix.count = 0
}

func (ix *nameIndex) slot(h uint32) int {
	// Fibonacci hashing spreads the hash over the high bits.
	return int((uint64(h) * 0x9E3779B97F4A7C15) >> ix.shift)
}

func (ix *nameIndex) insert(e uint64) {
	mask := len(ix.slots) - 1
	i := ix.slot(uint32(e >> 32))
	for ix.slots[i] != 0 {
		i = (i + 1) & mask
	}
	ix.slots[i] = e
}

func (ix *nameIndex) resize(size int) {
	old := ix.slots
	ix.slots = make([]uint64, size)
	ix.shift = uint8(64 - log2(size))
	if ix.count == 0 {
		return
	}
	for _, e := range old {
		if e != 0 {
			ix.insert(e)
		}
	}
}
