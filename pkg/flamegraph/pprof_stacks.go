package flamegraph

import (
	"encoding/binary"
	"hash/maphash"

	"github.com/cinder-profiling/cinder/pkg/symdb"
)

// pprofStacks is what the profile builder needs of a partition that
// depends on the partition alone, so it is built once per partition and
// kept with it (see partitionPprofStacks):
//   - locKey[l] is the content of location l as the builder deduplicates
//     it (mapping key, address, and for each line the function's content
//     and the line number), so a query interns each location with a single
//     map lookup instead of resolving its function and mapping;
//   - hash[i] is a hash of the content of the whole stack ending at node i
//     (0 for a chunk root), equal for equal stacks of any partition, so a
//     query finds the profile stack of a sample without walking the
//     partition's tree. Stacks with equal hashes are compared exactly.
type pprofStacks struct {
	locKey  []string
	locHash []uint64
	hash    []uint64

	// What it was built from, to catch a partition that changed.
	nodes, locations, functions, mappings, strs int
	parents0                                    *int32
}

var pprofStackSeed = maphash.MakeSeed()

func (ps *pprofStacks) matches(p *symdb.Partition) bool {
	var parents0 *int32
	if len(p.Parents) > 0 {
		parents0 = &p.Parents[0]
	}
	return ps.nodes == len(p.Parents) && ps.locations == len(p.Locations) &&
		ps.functions == len(p.Functions) && ps.mappings == len(p.Mappings) &&
		ps.strs == len(p.Strings) && ps.parents0 == parents0
}

func appendKeyString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func buildPprofStacks(p *symdb.Partition) *pprofStacks {
	n := len(p.Parents)
	ps := &pprofStacks{
		locKey:    make([]string, len(p.Locations)),
		hash:      make([]uint64, n),
		nodes:     n,
		locations: len(p.Locations),
		functions: len(p.Functions),
		mappings:  len(p.Mappings),
		strs:      len(p.Strings),
	}
	if n > 0 {
		ps.parents0 = &p.Parents[0]
	}
	locHash := make([]uint64, len(p.Locations))
	ps.locHash = locHash
	var key []byte
	for li := range p.Locations {
		loc := &p.Locations[li]
		key = key[:0]
		if mi := loc.MappingID; int(mi) < len(p.Mappings) {
			m := &p.Mappings[mi]
			size := m.MemoryLimit - m.MemoryStart
			size = (size + 0xfff) &^ 0xfff
			key = append(key, 1)
			key = binary.LittleEndian.AppendUint64(key, size)
			key = binary.LittleEndian.AppendUint64(key, m.FileOffset)
			if s := p.Strings[m.BuildID]; s != "" {
				key = appendKeyString(key, s)
			} else {
				key = appendKeyString(key, p.Strings[m.Filename])
			}
		} else {
			key = append(key, 0)
		}
		key = binary.LittleEndian.AppendUint64(key, loc.Address)
		for _, l := range loc.Lines {
			f := &p.Functions[l.FunctionID]
			key = appendKeyString(key, p.Strings[f.Name])
			key = appendKeyString(key, p.Strings[f.SystemName])
			key = appendKeyString(key, p.Strings[f.Filename])
			key = binary.LittleEndian.AppendUint64(key, uint64(f.StartLine))
			key = binary.LittleEndian.AppendUint64(key, uint64(l.Line))
		}
		ps.locKey[li] = string(key)
		locHash[li] = maphash.Bytes(pprofStackSeed, key)
	}
	for i := 0; i < n; i++ {
		par := p.Parents[i]
		if par < 0 {
			continue
		}
		h := ps.hash[par]*0x9E3779B97F4A7C15 + locHash[p.NodeLocations[i]]
		// splitmix64 finalizer.
		h ^= h >> 30
		h *= 0xbf58476d1ce4e5b9
		h ^= h >> 27
		h *= 0x94d049bb133111eb
		h ^= h >> 31
		ps.hash[i] = h
	}
	return ps
}

type pprofStacksKey struct{}

// partitionPprofStacks returns the pprofStacks of p, built on first use and
// kept with p.
func partitionPprofStacks(p *symdb.Partition) *pprofStacks {
	ps := p.Derived(pprofStacksKey{}, func() any { return buildPprofStacks(p) }).(*pprofStacks)
	if !ps.matches(p) {
		// Partitions are immutable; only hand-built test partitions grow.
		return buildPprofStacks(p)
	}
	return ps
}

// fastState is the builder's state for addPartitionFast: the stack nodes
// that carry values by stack hash, and the locations by content hash.
type fastState struct {
	samples hashIndex
	locs    hashIndex
	locKeys []string // builder location → its content key, "" if unknown

	// Per-partition scratch: partition location → builder location and
	// partition node → stack node, -1 unknown.
	gloc []int32
	gOf  []int32
	path []int32
}

// hashIndex maps 64-bit hashes to int32 values; a hash may have several
// values. It is an open-addressing table over one flat slice whose slots
// hold hash and value side by side, so a probe touches one cache line.
type hashIndex struct {
	slots []hashSlot
	count int
	shift uint8
}

// hashSlot is one entry; val -1 marks an empty slot.
type hashSlot struct {
	key uint64
	val int32
}

func (ix *hashIndex) slot(h uint64) int {
	return int((h * 0x9E3779B97F4A7C15) >> ix.shift)
}

// find calls f with the values stored for h until f returns true, and
// returns that value, or -1.
func (ix *hashIndex) find(h uint64, f func(int32) bool) int32 {
	if ix.count == 0 {
		return -1
	}
	mask := len(ix.slots) - 1
	for i := ix.slot(h); ix.slots[i].val >= 0; i = (i + 1) & mask {
		if s := ix.slots[i]; s.key == h && f(s.val) {
			return s.val
		}
	}
	return -1
}

// add stores v for h, next to any value h already has.
func (ix *hashIndex) add(h uint64, v int32) {
	if 2*(ix.count+1) > len(ix.slots) {
		ix.grow()
	}
	mask := len(ix.slots) - 1
	i := ix.slot(h)
	for ix.slots[i].val >= 0 {
		i = (i + 1) & mask
	}
	ix.slots[i] = hashSlot{key: h, val: v}
	ix.count++
}

func (ix *hashIndex) grow() {
	old := ix.slots
	size := max(2*len(old), childIndexMinSize)
	ix.slots = make([]hashSlot, size)
	for i := range ix.slots {
		ix.slots[i].val = -1
	}
	ix.shift = uint8(64 - log2(size))
	ix.count = 0
	for _, s := range old {
		if s.val >= 0 {
			ix.add(s.key, s.val)
		}
	}
}

// addPartitionFast adds the selected positive values of p without
// truncation. Only the nodes with a value are looked up, by stack hash; a
// stack node is created for a value's stack (and the missing part of its
// parent chain) only when no equal stack has carried a value before, so
// every distinct stack with a value has exactly one node, as with
// stackTrie.child. Parent chains may repeat stacks that carry no value;
// Build only emits nodes with values.
func (b *ProfileBuilder) addPartitionFast(p *symdb.Partition, nodeSelf []int64, match []bool) {
	ps := partitionPprofStacks(p)
	fs := &b.fast
	fs.gloc = resetMap(fs.gloc, len(p.Locations))
	fs.gOf = resetMap(fs.gOf, len(p.Parents))
	parents := p.Parents
	for i, v := range nodeSelf {
		if v <= 0 || parents[i] < 0 || (match != nil && !match[i]) {
			continue
		}
		g := b.fastValueNode(p, ps, int32(i))
		b.stacks.value[g] += v
		b.total += v
	}
}

// fastLoc returns the builder location of partition location li.
func (b *ProfileBuilder) fastLoc(p *symdb.Partition, ps *pprofStacks, li int32) int32 {
	fs := &b.fast
	if g := fs.gloc[li]; g >= 0 {
		return g
	}
	key, h := ps.locKey[li], ps.locHash[li]
	g := fs.locs.find(h, func(g int32) bool { return fs.locKeys[g] == key })
	if g < 0 {
		g = b.location(p, li)
		for len(fs.locKeys) <= int(g) {
			fs.locKeys = append(fs.locKeys, "")
		}
		if fs.locKeys[g] == "" {
			fs.locKeys[g] = key
			fs.locs.add(h, g)
		}
	}
	fs.gloc[li] = g
	return g
}

// fastSame reports whether the stack of partition node i equals that of
// stack node g; if so, the partition nodes walked are mapped to the stack
// nodes they equal.
func (b *ProfileBuilder) fastSame(p *symdb.Partition, ps *pprofStacks, i, g int32) bool {
	fs := &b.fast
	parents := p.Parents
	st := &b.stacks
	n, c := i, g
	for {
		if fs.gOf[n] == c {
			break
		}
		if c <= 0 || b.fastLoc(p, ps, p.NodeLocations[n]) != st.loc[c] {
			return false
		}
		n, c = parents[n], st.parent[c]
		if parents[n] < 0 { // n is a chunk root: the empty stack
			if c != 0 {
				return false
			}
			break
		}
	}
	// Remember the walked nodes.
	for n, c := i, g; parents[n] >= 0 && fs.gOf[n] != c; n, c = parents[n], st.parent[c] {
		fs.gOf[n] = c
	}
	return true
}

// fastValueNode returns the stack node that carries the values of the
// stack of partition node i, creating it if needed.
func (b *ProfileBuilder) fastValueNode(p *symdb.Partition, ps *pprofStacks, i int32) int32 {
	fs := &b.fast
	h := ps.hash[i]
	if g := fs.samples.find(h, func(g int32) bool { return b.fastSame(p, ps, i, g) }); g >= 0 {
		return g
	}
	// A new stack with a value: the part of its parent chain not mapped
	// yet is made anew (stacks without values may repeat), then the node.
	parents := p.Parents
	path := fs.path[:0]
	path = append(path, i)
	for n := parents[i]; parents[n] >= 0 && fs.gOf[n] < 0; n = parents[n] {
		path = append(path, n)
	}
	st := &b.stacks
	for k := len(path) - 1; k >= 0; k-- {
		n := path[k]
		gp := int32(0)
		if par := parents[n]; parents[par] >= 0 {
			gp = fs.gOf[par]
		}
		g := int32(len(st.parent))
		st.parent = append(st.parent, gp)
		st.loc = append(st.loc, b.fastLoc(p, ps, p.NodeLocations[n]))
		st.value = append(st.value, 0)
		fs.gOf[n] = g
	}
	fs.path = path
	g := fs.gOf[i]
	fs.samples.add(h, g)
	return g
}
