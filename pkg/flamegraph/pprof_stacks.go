package flamegraph

import (
	"encoding/binary"
	"hash/maphash"
	"math/bits"
	"slices"
	"sync"
	"unsafe"
	"weak"

	"github.com/cinder-profiling/cinder/pkg/symdb"
)

// pprofStacks is what the profile builder needs of a partition that
// depends on the partition alone, so it is built once per partition and
// kept with it (see partitionPprofStacks):
//   - locHash[l] is a hash of the content of location l as the builder
//     deduplicates it (see appendLocationKey), so a query interns each
//     location with a single hash lookup; locations of equal hash are
//     compared by content (sameLocation);
//   - the stack hash of node i is a hash of the content of the whole
//     stack ending at node i, equal for equal stacks of any partition, so
//     a query finds the profile stack of a sample without walking the
//     partition's tree. Stacks with equal hashes are compared exactly;
//   - the shard of node i is the low half of the hash of the stack's
//     first shardDepth locations from the root (all of them in a shorter
//     stack): it picks the builder's shard for the stack, so that stacks
//     that share a parent chain below that depth go to the same shard,
//     which then compares the chain once;
//   - usedLocs are the locations some node uses, ascending (the symbol
//     tables of meta v2 blocks are shared by all partitions of the block).
//
// Stack hashes and shards are kept for the leaves of the partition's tree
// only, the nodes that are no other node's parent: samples are nearly
// always there (every one on the bench bucket), and leaves are an eighth
// of the nodes. An inner node with a value has its hash computed from its
// path (see stack).
type pprofStacks struct {
	locHash  []uint64
	usedLocs []int32

	// leafHash and leafShard are indexed by leaf number in leaves, the
	// partition's own index (held by the partition, not counted here).
	leaves    *symdb.LeafIndex
	leafHash  []uint64
	leafShard []uint32

	// What it was built from, to catch a partition that changed.
	nodes, locations, functions, mappings, strs int
	tree                                        symdb.StackTreeID
}

var pprofStackSeed = maphash.MakeSeed()

// shardDepth is how many root-side locations of a stack pick its shard:
// deep enough that the stacks of real profiles spread over many prefixes,
// shallow enough that most of a stack's chain is shared within a shard.
const shardDepth = 4

// SizeBytes is the memory ps holds beside its partition, for the partition
// cache (symdb.Partition.Derived).
func (ps *pprofStacks) SizeBytes() int64 {
	return int64(unsafe.Sizeof(*ps)) +
		8*int64(cap(ps.locHash)+cap(ps.leafHash)) +
		4*int64(cap(ps.usedLocs)+cap(ps.leafShard))
}

func (ps *pprofStacks) matches(p *symdb.Partition) bool {
	return ps.nodes == p.Tree.Len() && ps.locations == len(p.Locations) &&
		ps.functions == len(p.Functions) && ps.mappings == len(p.Mappings) &&
		ps.strs == len(p.Strings) && ps.tree == p.Tree.ID()
}

func appendKeyString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// appendLocationKey appends the content of location li of p as the
// builder deduplicates it: the mapping's key (size rounded up to 4 KiB,
// file offset, build ID or else file name), the address, and for each
// line the function's content and the line number. Equal content gives
// equal keys and the encoding is unambiguous, so sameLocation is key
// equality.
func appendLocationKey(key []byte, p *symdb.Partition, li int) []byte {
	loc := &p.Locations[li]
	if m, ok := mappingOf(p, loc.MappingID); ok {
		key = append(key, 1)
		key = binary.LittleEndian.AppendUint64(key, m.size)
		key = binary.LittleEndian.AppendUint64(key, m.offset)
		key = appendKeyString(key, m.file)
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
	return key
}

// locationMapping is what a location's mapping adds to its key.
type locationMapping struct {
	size, offset uint64
	file         string // build ID if set, else file name
}

// mappingOf returns the key of mapping mi of p; false for a location
// without a mapping.
func mappingOf(p *symdb.Partition, mi uint32) (locationMapping, bool) {
	if int(mi) >= len(p.Mappings) {
		return locationMapping{}, false
	}
	m := &p.Mappings[mi]
	k := locationMapping{size: (m.MemoryLimit - m.MemoryStart + 0xfff) &^ 0xfff, offset: m.FileOffset}
	if k.file = p.Strings[m.BuildID]; k.file == "" {
		k.file = p.Strings[m.Filename]
	}
	return k, true
}

// sameLocation reports whether location li of p and location lj of q have
// equal keys (appendLocationKey), without making them.
func sameLocation(p *symdb.Partition, li int32, q *symdb.Partition, lj int32) bool {
	a, b := &p.Locations[li], &q.Locations[lj]
	if a == b { // one table: partitions of a meta v1 or v2 block share it
		return true
	}
	if a.Address != b.Address || len(a.Lines) != len(b.Lines) {
		return false
	}
	ma, okA := mappingOf(p, a.MappingID)
	mb, okB := mappingOf(q, b.MappingID)
	if okA != okB || ma != mb {
		return false
	}
	for k, la := range a.Lines {
		lb := b.Lines[k]
		if la.Line != lb.Line {
			return false
		}
		fa, fb := &p.Functions[la.FunctionID], &q.Functions[lb.FunctionID]
		if fa == fb {
			continue
		}
		if fa.StartLine != fb.StartLine || p.Strings[fa.Name] != q.Strings[fb.Name] || p.Strings[fa.Filename] != q.Strings[fb.Filename] {
			return false
		}
		// Most functions have their name as system name: then the names
		// compared say it.
		if (fa.SystemName != fa.Name || fb.SystemName != fb.Name) && p.Strings[fa.SystemName] != q.Strings[fb.SystemName] {
			return false
		}
	}
	return true
}

// mixStack returns the stack hash of a node from its parent's and the
// hash of its location.
func mixStack(parent, loc uint64) uint64 {
	h := parent*0x9E3779B97F4A7C15 + loc
	// splitmix64 finalizer.
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}

// buildPprofStacks builds the pprofStacks of p, whose leaf index is leaves.
func buildPprofStacks(p *symdb.Partition, leaves *symdb.LeafIndex) *pprofStacks {
	n := p.Tree.Len()
	ps := &pprofStacks{
		leaves:    leaves,
		locHash:   make([]uint64, len(p.Locations)),
		nodes:     n,
		locations: len(p.Locations),
		functions: len(p.Functions),
		mappings:  len(p.Mappings),
		strs:      len(p.Strings),
	}
	ps.tree = p.Tree.ID()
	var key []byte
	for li := range p.Locations {
		key = appendLocationKey(key[:0], p, li)
		ps.locHash[li] = maphash.Bytes(pprofStackSeed, key)
	}

	parents := p.Tree.AppendParents(make([]int32, 0, n))
	used := make([]bool, len(p.Locations))
	for i, par := range parents {
		if par >= 0 {
			used[p.Tree.Location(int32(i))] = true
		}
	}
	// A root without children is a leaf too; its slot is never read, as
	// stack is not asked for roots.
	ps.leafHash = make([]uint64, leaves.Count)
	ps.leafShard = make([]uint32, leaves.Count)

	// Every node's hash and shard, kept for the leaves. Parents come
	// before their children.
	hash := make([]uint64, n)
	shard := make([]uint32, n)
	depth := make([]uint8, n) // capped at shardDepth+1
	for i := 0; i < n; i++ {
		par := parents[i]
		if par < 0 {
			continue
		}
		depth[i] = min(depth[par]+1, shardDepth+1)
		hash[i] = mixStack(hash[par], ps.locHash[p.Tree.Location(int32(i))])
		if depth[i] <= shardDepth {
			shard[i] = uint32(hash[i])
		} else {
			shard[i] = shard[par]
		}
		if leaf, ok := ps.leaf(i); ok {
			ps.leafHash[leaf], ps.leafShard[leaf] = hash[i], shard[i]
		}
	}
	for li, u := range used {
		if u {
			ps.usedLocs = append(ps.usedLocs, int32(li))
		}
	}
	return ps
}

// leaf returns the number of node i among the leaves, if it is one.
func (ps *pprofStacks) leaf(i int) (int, bool) {
	return ps.leaves.Leaf(int32(i))
}

// stack returns the stack hash and the shard of node i of p, which must
// not be a root.
func (ps *pprofStacks) stack(p *symdb.Partition, i int) (hash uint64, shard uint32) {
	if leaf, ok := ps.leaf(i); ok {
		return ps.leafHash[leaf], ps.leafShard[leaf]
	}
	// An inner node: its stack is hashed from the root down.
	var buf [64]int32
	path := buf[:0]
	for n := int32(i); p.Tree.Parent(n) >= 0; n = p.Tree.Parent(n) {
		path = append(path, n)
	}
	for d := len(path) - 1; d >= 0; d-- {
		hash = mixStack(hash, ps.locHash[p.Tree.Location(path[d])])
		if len(path)-d <= shardDepth {
			shard = uint32(hash)
		}
	}
	return hash, shard
}

type pprofStacksKey struct{}

// partitionPprofStacks returns the pprofStacks of p, built on first use and
// kept with p.
func partitionPprofStacks(p *symdb.Partition) *pprofStacks {
	// Outside Derived's build: it holds the partition's lock.
	leaves := p.Leaves()
	ps := p.Derived(pprofStacksKey{}, func() any { return buildPprofStacks(p, leaves) }).(*pprofStacks)
	if !ps.matches(p) {
		// Partitions are immutable; only hand-built test partitions grow.
		return buildPprofStacks(p, leaves)
	}
	return ps
}

// fastState is the builder's state for addPartitionFast: the distinct
// stacks with values, and the builder locations by content hash.
type fastState struct {
	// shards hold the stacks, split by the shard pprofStacks.stack gives
	// them so that each shard can be filled by a goroutine of its own. How
	// many there are is fixed by the first partition added.
	shards []stackShard
	seq    uint32 // partitions added so far
	locs   hashIndex
	// locSrc[g] is a partition location with the content of builder
	// location g, for comparing with; none (nil partition) if unknown.
	// Between profiles the partitions are only held weakly, in locWeak:
	// pin makes locSrc whole again before a profile adds its first
	// partition, unless one of them is gone.
	locSrc  []locationRef
	locWeak []weak.Pointer[symdb.Partition]
	pinned  bool
	// known remembers, per partition added to an earlier profile of this
	// builder, what the stacks and locations of its nodes became, so that
	// its nodes are not dealt, hashed and compared again.
	known map[weak.Pointer[symdb.Partition]]*knownPartition
	// Per-partition scratch: dealt[w][k] the nodes with values of the w-th
	// range of nodes whose stacks go to shard k; learnt[k] the nodes whose
	// samples shard k found, for knownPartition.samples.
	dealt  [][][]dealtNode
	learnt [][]nodeSample
}

// locationRef names location li of partition p.
type locationRef struct {
	p  *symdb.Partition
	li int32
}

// knownPartition is what the builder's stacks and locations made of a
// partition: gloc[li] is the builder location of location li (-1 for a
// location no node uses), and samples has the sample of node i's stack,
// as s*shards + k for sample s of shard k, for the nodes whose sample is
// known.
type knownPartition struct {
	gloc    []int32
	samples knownSamples
}

// dealtNode is a partition node with a value, with what a shard needs of
// it at hand: the shard reads its nodes in turn instead of picking them
// out of the partition-sized arrays.
type dealtNode struct {
	hash   uint64 // pprofStacks.hash
	value  int64
	node   int32
	sample int32 // the node's sample in its shard when known, else -1
}

// reset empties fs, keeping its memory.
func (fs *fastState) reset() {
	fs.shards = fs.shards[:0]
	fs.seq = 0
	fs.locs.reset()
	clear(fs.locSrc) // drops the partitions
	fs.locSrc = fs.locSrc[:0]
	clear(fs.locWeak)
	fs.locWeak = fs.locWeak[:0]
	fs.pinned = false
	clear(fs.known)
}

// endProfile readies fs for the next profile, keeping its stacks and what
// it knows of partitions: the values of the samples are zeroed, and the
// partitions it compares locations with are only held weakly.
func (fs *fastState) endProfile() {
	for k := range fs.shards {
		fs.shards[k].endProfile()
	}
	fs.seq = 0
	for g := range fs.locSrc {
		fs.locSrc[g].p = nil
	}
	fs.pinned = false
}

// pin makes locSrc whole from locWeak and forgets the partitions that are
// gone. It reports false if a partition that a builder location is
// compared with is gone: what fs knows must then be dropped (see reset).
func (fs *fastState) pin() bool {
	for g := range fs.locSrc {
		if fs.locSrc[g].li < 0 {
			continue // a location interned otherwise, not compared with
		}
		if fs.locSrc[g].p = fs.locWeak[g].Value(); fs.locSrc[g].p == nil {
			return false
		}
	}
	for w := range fs.known {
		if w.Value() == nil {
			delete(fs.known, w)
		}
	}
	fs.pinned = true
	return true
}

// stackShard holds the distinct location stacks with values that
// pprofStacks.stack puts in one shard, as runs of builder locations in
// locs, leaf first. A run ends with -1 where the stack ends, or with a link -(q+2) where
// the rest of the stack is the one stored from position q on: the chain
// that sibling stacks share is stored once, and no node is made for a
// stack without a value of its own.
type stackShard struct {
	index hashIndex // stack hash → sample
	locs  []int32
	start []int32 // sample → position of its stack in locs
	value []int64 // sample → summed value
	// first[s] is partition sequence<<32 | node of the first value of
	// sample s; it orders the samples of all shards as one builder adds
	// them, whatever the number of shards.
	first []uint64
	total int64
	// active lists the samples with a value in the profile being built,
	// in the order of their first values.
	active []int32

	// memo is per-partition scratch: partition node → a position in locs
	// from which locs hold the node's stack, -1 unknown. Sibling stacks
	// share their parents' chains, so most comparisons stop after a step.
	// It is empty until a node of the partition needs its stack looked
	// up: a partition whose samples are all known does without it.
	memo []int32
}

// reset empties sh, keeping its memory.
func (sh *stackShard) reset() {
	sh.index.reset()
	sh.locs = sh.locs[:0]
	sh.start = sh.start[:0]
	sh.value = sh.value[:0]
	sh.first = sh.first[:0]
	sh.active = sh.active[:0]
	sh.total = 0
}

// endProfile zeroes the values of the samples, keeping the stacks.
func (sh *stackShard) endProfile() {
	for _, s := range sh.active {
		sh.value[s] = 0
	}
	sh.active = sh.active[:0]
	sh.total = 0
}

// hashIndex maps 64-bit hashes to dense int32 values (IDs); a hash may
// have several values. It is an open-addressing table over one flat slice
// whose slots hold value and hash side by side, so a probe touches one
// cache line. The high bits of a hash choose its slot and the slot keeps
// only its low 32 bits, which halves the table: callers compare every
// candidate exactly. The whole hashes, for growing, are kept by value.
type hashIndex struct {
	slots  []hashSlot
	hashes []uint64 // value → its hash
	count  int
	shift  uint8
	sink   int32 // what touch loaded, so that the loads are kept
}

// hashSlot is one entry; val -1 marks an empty slot.
type hashSlot struct {
	tag uint32 // the hash's low bits
	val int32
}

// reset empties ix, keeping its memory.
func (ix *hashIndex) reset() {
	for i := range ix.slots {
		ix.slots[i].val = -1
	}
	ix.hashes = ix.hashes[:0]
	ix.count = 0
}

// touch loads the first slot of each node's hash, for find to have it
// cached: the loads do not wait for each other as the lookups would.
func (ix *hashIndex) touch(nodes []dealtNode) {
	if ix.count == 0 {
		return
	}
	var sink int32
	for _, d := range nodes {
		sink |= ix.slots[ix.slot(d.hash)].val
	}
	ix.sink += sink
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
	tag := uint32(h)
	for i := ix.slot(h); ix.slots[i].val >= 0; i = (i + 1) & mask {
		if s := ix.slots[i]; s.tag == tag && f(s.val) {
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
	for len(ix.hashes) <= int(v) {
		ix.hashes = append(ix.hashes, 0)
	}
	ix.hashes[v] = h
	ix.insert(h, v)
}

func (ix *hashIndex) insert(h uint64, v int32) {
	mask := len(ix.slots) - 1
	i := ix.slot(h)
	for ix.slots[i].val >= 0 {
		i = (i + 1) & mask
	}
	ix.slots[i] = hashSlot{tag: uint32(h), val: v}
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
			ix.insert(ix.hashes[s.val], s.val)
		}
	}
}

// addPartitionFast adds the selected positive values of p without
// truncation. Only the nodes with a value are looked up, by stack hash,
// and compared with the stored stacks of equal hash; a stack is stored
// when no equal stack has carried a value before, so every distinct stack
// with a value is one sample. With several shards, each is filled by a
// goroutine of its own while the caller's waits.
//
// The values are nodeSelf, one per node, or leafSelf, one per leaf of p
// (see symdb.LeafIndex); then only the leaves are visited.
func (b *ProfileBuilder) addPartitionFast(p *symdb.Partition, nodeSelf, leafSelf []int64, match []bool) {
	ps := partitionPprofStacks(p)
	fs := &b.fast
	if len(fs.shards) == 0 {
		n := max(1, b.parallelism)
		// Shards of an earlier profile are reused, buffers and all.
		fs.shards = slices.Grow(fs.shards, n)[:n]
		for k := range fs.shards {
			fs.shards[k].reset()
		}
		fs.dealt = slices.Grow(fs.dealt, n)[:n]
		for w := range fs.dealt {
			fs.dealt[w] = slices.Grow(fs.dealt[w], n)[:n]
		}
		fs.learnt = slices.Grow(fs.learnt, n)[:n]
	}
	shards := len(fs.shards)
	dealt, learnt := fs.dealt[:shards], fs.learnt[:shards]
	// A partition added to an earlier profile has its locations and the
	// samples of its nodes known. Otherwise goroutines deal a range of
	// nodes each and look up a range of the locations among those interned
	// before; then the caller's goroutine interns the locations not found.
	kp := fs.knownPartition(p)
	gloc, fresh := kp.gloc, kp.gloc == nil
	if fresh {
		gloc = resetMap(nil, len(p.Locations))
	}
	ranges := len(nodeSelf)
	if leafSelf != nil {
		ranges = len(ps.leaves.Words)
	}
	goRanges(ranges, shards, func(w, lo, hi int) {
		if leafSelf != nil {
			dealLeaves(ps, p, leafSelf, &kp.samples, lo, hi, dealt[w])
		} else {
			deal(ps, p, nodeSelf, match, &kp.samples, lo, hi, dealt[w])
		}
		if fresh {
			locs := len(ps.usedLocs)
			fs.findLocations(p, ps, ps.usedLocs[locs*w/shards:locs*(w+1)/shards], gloc)
		}
	})()
	if fresh {
		b.internLocations(p, ps, gloc)
		kp.gloc = gloc
	}
	seq := fs.seq
	fs.seq++
	var wg sync.WaitGroup
	for k := 1; k < shards; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			learnt[k] = fs.shards[k].add(p, gloc, learnt[k][:0], dealt, k, seq)
		}()
	}
	learnt[0] = fs.shards[0].add(p, gloc, learnt[0][:0], dealt, 0, seq)
	wg.Wait()
	kp.samples.add(learnt)
}

// knownPartition returns what fs knows of p, made on first use with no
// sample known and gloc nil, for the caller to fill.
func (fs *fastState) knownPartition(p *symdb.Partition) *knownPartition {
	w := weak.Make(p)
	kp := fs.known[w]
	// Partitions are immutable; only hand-built test partitions grow.
	if kp == nil || kp.samples.nodes != p.Tree.Len() || (kp.gloc != nil && len(kp.gloc) != len(p.Locations)) {
		if fs.known == nil {
			fs.known = make(map[weak.Pointer[symdb.Partition]]*knownPartition)
		}
		kp = &knownPartition{samples: newKnownSamples(p.Tree.Len())}
		fs.known[w] = kp
	}
	return kp
}

// deal empties dealt, then appends every node in [lo, hi) that has a
// positive value and a stack that is not empty (and matches, with match)
// to dealt[k], k being the shard of its stack, in ascending order.
//
// A node whose sample is known goes to its sample's shard with the
// sample, and its stack is not hashed.
func deal(ps *pprofStacks, p *symdb.Partition, nodeSelf []int64, match []bool, known *knownSamples, lo, hi int, dealt [][]dealtNode) {
	for k := range dealt {
		dealt[k] = dealt[k][:0]
	}
	shards := uint32(len(dealt))
	tree := &p.Tree
	// Loaded once: read through known, they would be reloaded after every
	// append to dealt.
	knownBits, knownRank, samples := known.known, known.rank, known.samples
	// The nodes with values are gathered a block at a time without a
	// branch: about one node in eight has one, in no pattern a branch
	// predictor learns.
	var withValue [gatherBlock]int32
	for base := lo; base < hi; base += gatherBlock {
		n := gatherPositive(&withValue, nodeSelf[base:min(base+gatherBlock, hi)], base)
		for _, i := range withValue[:n] {
			if tree.IsRoot(i) || (match != nil && !match[i]) {
				continue
			}
			if s := knownSample(knownBits, knownRank, samples, i); s >= 0 {
				k := uint32(s) % shards
				dealt[k] = append(dealt[k], dealtNode{value: nodeSelf[i], node: i, sample: s / int32(shards)})
				continue
			}
			h, shard := ps.stack(p, int(i))
			k := shard % shards
			dealt[k] = append(dealt[k], dealtNode{hash: h, value: nodeSelf[i], node: i, sample: -1})
		}
	}
}

// dealLeaves is deal for values per leaf of p, over the leaves of words
// [lo, hi) of p's leaf index.
func dealLeaves(ps *pprofStacks, p *symdb.Partition, leafSelf []int64, known *knownSamples, lo, hi int, dealt [][]dealtNode) {
	for k := range dealt {
		dealt[k] = dealt[k][:0]
	}
	shards := uint32(len(dealt))
	tree := &p.Tree
	knownBits, knownRank, samples := known.known, known.rank, known.samples
	words := ps.leaves.Words
	if lo >= hi {
		return
	}
	leaf := int(words[lo].Rank)
	for w := lo; w < hi; w++ {
		for word := words[w].Bits; word != 0; word &= word - 1 {
			v := leafSelf[leaf]
			leaf++
			i := int32(w*64 + bits.TrailingZeros64(word))
			if v <= 0 || tree.IsRoot(i) {
				continue
			}
			if s := knownSample(knownBits, knownRank, samples, i); s >= 0 {
				k := uint32(s) % shards
				dealt[k] = append(dealt[k], dealtNode{value: v, node: i, sample: s / int32(shards)})
				continue
			}
			h, shard := ps.stack(p, int(i))
			k := shard % shards
			dealt[k] = append(dealt[k], dealtNode{hash: h, value: v, node: i, sample: -1})
		}
	}
}

const gatherBlock = 256

// gatherPositive writes base+j to dst for every values[j] > 0, in order,
// and returns how many it wrote; len(values) ≤ gatherBlock.
//
// NOTE: not inlined: in deal's body the loop has no registers to spare and
// spills its counters on every node, which made it a fifth slower.
//
//go:noinline
func gatherPositive(dst *[gatherBlock]int32, values []int64, base int) int {
	n := 0
	for j, v := range values {
		dst[n&(gatherBlock-1)] = int32(base + j)
		n += b2i(v > 0)
	}
	return n
}

// b2i is 1 for true and 0 for false, which the compiler makes without a
// branch.
func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// findLocations sets gloc[li] for each location li of p in locs that has
// the content of a location interned before. It only reads fs, so that
// goroutines may look up disjoint ranges of locations at once.
func (fs *fastState) findLocations(p *symdb.Partition, ps *pprofStacks, locs []int32, gloc []int32) {
	for _, li := range locs {
		gloc[li] = fs.locs.find(ps.locHash[li], func(g int32) bool {
			src := fs.locSrc[g]
			return sameLocation(p, li, src.p, src.li)
		})
	}
}

// internLocations interns every location the nodes of p use that
// findLocations did not find (gloc[li] < 0), and sets its gloc.
func (b *ProfileBuilder) internLocations(p *symdb.Partition, ps *pprofStacks, gloc []int32) {
	fs := &b.fast
	for _, li := range ps.usedLocs {
		if gloc[li] >= 0 {
			continue
		}
		// An equal location of p may have been interned just before.
		h := ps.locHash[li]
		g := fs.locs.find(h, func(g int32) bool {
			src := fs.locSrc[g]
			return sameLocation(p, li, src.p, src.li)
		})
		if g < 0 {
			if b.slowLocs {
				g = b.location(p, li)
			} else {
				g = b.appendLocation(p, li)
			}
			for len(fs.locSrc) <= int(g) {
				fs.locSrc = append(fs.locSrc, locationRef{li: -1}) // no source
				fs.locWeak = append(fs.locWeak, weak.Pointer[symdb.Partition]{})
			}
			if fs.locSrc[g].p == nil {
				fs.locSrc[g] = locationRef{p, li}
				fs.locWeak[g] = weak.Make(p)
				fs.locs.add(h, g)
			}
		}
		gloc[li] = g
	}
}

// add adds the values of the nodes of p dealt to shard k, dealt[w][k] for
// every w in turn (see deal); seq numbers the partition among those added.
// It appends the nodes whose samples it found or stored to learnt, with
// their samples as knownPartition keeps them, and returns it.
func (sh *stackShard) add(p *symdb.Partition, gloc []int32, learnt []nodeSample, dealt [][][]dealtNode, k int, seq uint32) []nodeSample {
	sh.memo = sh.memo[:0]
	for w := range dealt {
		learnt = sh.addNodes(p, gloc, learnt, dealt[w][k], int32(k), int32(len(dealt)), seq)
	}
	return learnt
}

func (sh *stackShard) addNodes(p *symdb.Partition, gloc []int32, learnt []nodeSample, nodes []dealtNode, k, shards int32, seq uint32) []nodeSample {
	// Batches: the table slots of a batch are loaded first, the loads
	// being independent of each other, so that their cache misses overlap.
	const batch = 16
	for len(nodes) > 0 {
		todo := nodes[:min(batch, len(nodes))]
		nodes = nodes[len(todo):]
		sh.index.touch(todo)
		for _, d := range todo {
			i, s := d.node, d.sample
			if s < 0 {
				if len(sh.memo) == 0 {
					sh.memo = resetMap(sh.memo, p.Tree.Len())
				}
				s = sh.index.find(d.hash, func(s int32) bool { return sh.same(p, gloc, i, sh.start[s]) })
				if s < 0 {
					s = sh.store(p, gloc, i, d.hash)
				}
				learnt = append(learnt, nodeSample{node: i, sample: s*shards + k})
			}
			if sh.value[s] == 0 {
				sh.first[s] = uint64(seq)<<32 | uint64(i)
				sh.active = append(sh.active, s)
			}
			sh.value[s] += d.value
			sh.total += d.value
		}
	}
	return learnt
}

// stackLink is the entry of locs that continues a stack at position q.
func stackLink(q int32) int32 { return -q - 2 }

// nextInStack returns the position of the location after the one at k,
// following a link; its entry is -1 where the stack ends.
func nextInStack(locs []int32, k int32) int32 {
	k++
	if e := locs[k]; e < -1 {
		k = -e - 2
	}
	return k
}

// same reports whether the stack of partition node i is the one stored
// from position pos of sh.locs, and remembers the nodes walked if so.
//
// The nodes are remembered as they are walked, so that the walk is made
// once: nearly every candidate is the stack (hashes of 64 bits pick it),
// and the rare one that is not has its nodes forgotten again.
func (sh *stackShard) same(p *symdb.Partition, gloc []int32, i, pos int32) bool {
	tree := &p.Tree
	memo, locs := sh.memo, sh.locs
	// par is n's parent, looked up once per node: Parent costs more than
	// an array read.
	for n, k, par := i, pos, tree.Parent(i); memo[n] != k; {
		if locs[k] != gloc[tree.Location(n)] {
			sh.forget(tree, i, n)
			return false
		}
		memo[n] = k
		n, k = par, nextInStack(locs, k)
		if par = tree.Parent(n); par < 0 { // n is a chunk root: the stack ends here
			if locs[k] != -1 {
				sh.forget(tree, i, n)
				return false
			}
			break
		}
	}
	return true
}

// forget clears what same remembered of the nodes from i up to, not
// including, its ancestor end. A node may have been known with another
// position before; it is then merely unknown again, which costs a longer
// walk later and changes no answer.
func (sh *stackShard) forget(tree *symdb.StackTree, i, end int32) {
	for n := i; n != end; n = tree.Parent(n) {
		sh.memo[n] = -1
	}
}

// store adds the stack of partition node i as a new sample and returns
// it. Where a parent's stack is stored already, the run links to it.
func (sh *stackShard) store(p *symdb.Partition, gloc []int32, i int32, h uint64) int32 {
	tree := &p.Tree
	memo := sh.memo
	pos := int32(len(sh.locs))
	locs := sh.locs
	n, par := i, tree.Parent(i)
	for {
		memo[n] = int32(len(locs))
		locs = append(locs, gloc[tree.Location(n)])
		n = par
		if par = tree.Parent(n); par < 0 {
			locs = append(locs, -1)
			break
		}
		if m := memo[n]; m >= 0 {
			locs = append(locs, stackLink(m))
			break
		}
	}
	sh.locs = locs
	s := int32(len(sh.start))
	sh.start = append(sh.start, pos)
	sh.value = append(sh.value, 0)
	sh.first = append(sh.first, 0) // set by the first value (see addNodes)
	sh.index.add(h, s)
	return s
}
