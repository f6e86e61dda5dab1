package flamegraph

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"sync"
	"unsafe"

	"github.com/cinder-profiling/cinder/pkg/symdb"
	googlev1 "github.com/cinder-profiling/cinder/proto/google/v1"
)

// ProfileTypeInfo is a profile type ID split into its parts
// (name:sample_type:sample_unit:period_type:period_unit).
type ProfileTypeInfo struct {
	Name       string
	SampleType string
	SampleUnit string
	PeriodType string
	PeriodUnit string
}

// GoPGO is the go_pgo stack trace selector (api.md §6.13).
type GoPGO struct {
	// KeepLocations cuts every stack to its leaf-most locations; 0 keeps
	// whole stacks.
	KeepLocations uint32
	// AggregateCallees zeroes the line number of the first line of each
	// stack's leaf location, so samples differing only there merge.
	AggregateCallees bool
}

// Period returns the period SelectMergeProfile reports for a profile name:
// Pyroscope v1.21.1 does not keep the ingested period and guesses it.
func Period(profileName string) int64 {
	switch profileName {
	case "process_cpu":
		return 1_000_000_000
	case "memory":
		return 512 * 1024
	default:
		return 1
	}
}

// pbFunction is a deduplicated function; strings are positions in the
// builder's string list. It is also the function's dedup key.
type pbFunction struct {
	name, systemName, filename int32
	startLine                  int64
}

type pbMappingKey struct {
	size, offset uint64
	file         int32 // build ID if set, else file name
}

type pbMapping struct {
	start, limit, offset uint64
	filename, buildID    int32
	hasFunctions         bool
	hasFilenames         bool
	hasLineNumbers       bool
	hasInlineFrames      bool
}

// stubMapping marks the truncation stub location, whose mapping is the
// profile's mapping 1 (added if the profile has none).
const stubMapping = -2

type pbLocation struct {
	mapping   int32 // -1 for none, stubMapping for the truncation stub
	address   uint64
	folded    bool
	lineStart int32
	lineCount int32
}

type pbLine struct {
	function int32
	line     int64
}

// stackTrie holds distinct location stacks: node 0 is the empty stack and
// node i has leaf location loc[i] below stack parent[i]. A sample is a
// node with a value.
type stackTrie struct {
	parent []int32
	loc    []int32
	value  []int64
	index  childIndex
}

func (s *stackTrie) reset() {
	s.parent = append(s.parent[:0], -1)
	s.loc = append(s.loc[:0], -1)
	s.value = append(s.value[:0], 0)
	s.index = childIndex{}
}

func (s *stackTrie) child(parent, loc int32) int32 {
	if n := s.index.get(parent, loc); n >= 0 {
		return n
	}
	n := int32(len(s.parent))
	s.parent = append(s.parent, parent)
	s.loc = append(s.loc, loc)
	s.value = append(s.value, 0)
	s.index.put(parent, loc, n)
	return n
}

// ProfileBuilder merges the samples of any number of partitions into the
// single pprof profile SelectMergeProfile answers (api.md §6.7): one value
// per sample, no labels, samples with identical location stacks summed,
// locations, functions, mappings and strings deduplicated by content and
// numbered densely from 1 in order of first use.
//
// Locations are deduplicated by (address, mapping, every (function, line)
// pair), functions by (name, system name, file name, start line), mappings
// by (size rounded up to 4 KiB, file offset, build ID or else file name).
// A ProfileBuilder is not safe for concurrent use.
type ProfileBuilder struct {
	pt            ProfileTypeInfo
	timeNanos     int64
	durationNanos int64
	total         int64 // sum of the sample values added
	callSite      []string
	pgo           *GoPGO
	maxNodes      int64
	parallelism   int

	strs    []string
	strIDs  map[string]int32
	funcs   []pbFunction
	funcIDs map[pbFunction]int32
	maps    []pbMapping
	mapIDs  map[pbMappingKey]int32
	locs    []pbLocation
	lines   []pbLine
	locIDs  map[string]int32
	// locIDs holds the keys of b.locs[:keyed]: the fast path adds
	// locations without keys (see appendLocation) until some location is
	// interned otherwise; internLocation keys them when it next needs to.
	keyed    int
	slowLocs bool    // internLocation made a location
	variant  []int32 // location → its callee-aggregated variant, -1 unknown
	keyBuf   []byte
	// mapBytesPeak is the most memory the maps above took (see SizeBytes).
	mapBytesPeak int64

	stacks stackTrie

	// Per-partition scratch: partition position → builder ID, -1 unknown.
	nodeMap []int32
	matcher *CallSiteMatcher
	locMap  []int32
	fnMap   []int32
	mapMap  []int32
	// strMap is reset on first use in a partition (strMapped), as most
	// partitions of a query add no new function.
	strMap    []int32
	strMapped bool
	pathBuf   []int32
	fnode     []int32
	fnTree    stackTrie
	// parents holds the parents of the partition's nodes for the paths
	// that walk every node (see symdb.StackTree.AppendParents).
	parents []int32

	// Untruncated partitions are added through their stack hashes (see
	// addPartitionFast) to stacks of their own, not to the trie.
	fast fastState

	// encoded holds each goroutine's share of the encoded samples in
	// AppendEncoded but the first, kept for the next profile; lastEncoded
	// is the size of the last profile encoded, which sizes the next.
	encoded     [][]byte
	lastEncoded int
	// leafNodes holds per-node values that AddPartitionLeaves spreads from
	// leaf values for the paths that walk every node.
	leafNodes []int64
}

// NewProfileBuilder starts a profile of type pt for the query range
// [startMs, endMs] (milliseconds).
func NewProfileBuilder(pt ProfileTypeInfo, startMs, endMs int64) *ProfileBuilder {
	b := &ProfileBuilder{
		strIDs:  make(map[string]int32),
		funcIDs: make(map[pbFunction]int32),
		mapIDs:  make(map[pbMappingKey]int32),
		locIDs:  make(map[string]int32),
	}
	b.Reset(pt, startMs, endMs)
	return b
}

// Reset makes b ready for a new profile, as NewProfileBuilder(pt,
// startMs, endMs) returns one, for a caller that builds one profile after
// another. Profiles built before are not affected.
//
// b keeps the memory it has grown, and what it has learnt of the
// partitions it was given: their locations, and the stacks of their nodes
// with values. A partition given again is then added without being
// compared with anything. What b learnt holds the partitions weakly only;
// the first partition of the next profile drops it all if one of them is
// gone (see fastState.pin).
func (b *ProfileBuilder) Reset(pt ProfileTypeInfo, startMs, endMs int64) {
	b.pt = pt
	b.timeNanos = endMs * 1_000_000
	b.durationNanos = (endMs - startMs) * 1_000_000
	b.total = 0
	b.callSite, b.pgo, b.maxNodes, b.parallelism = nil, nil, 0, 0
	b.stacks.reset()
	b.fast.endProfile()
}

// forget drops the tables and stacks b has learnt, keeping their memory.
func (b *ProfileBuilder) forget() {
	// Cleared maps keep their tables: SizeBytes counts what they held.
	b.mapBytesPeak = max(b.mapBytesPeak, b.mapBytes())
	clear(b.strs)
	b.strs = b.strs[:0]
	clear(b.strIDs)
	b.funcs = b.funcs[:0]
	clear(b.funcIDs)
	b.maps = b.maps[:0]
	clear(b.mapIDs)
	b.locs = b.locs[:0]
	b.lines = b.lines[:0]
	clear(b.locIDs)
	b.keyed, b.slowLocs = 0, false
	b.variant = b.variant[:0]
	b.fast.reset()
}

// SizeBytes estimates the memory b holds: its tables and scratch, which
// Reset keeps. Strings are the partitions' and not counted; maps are
// estimated from the most entries they held. A caller that keeps builders
// between profiles can leave out the ones a large profile grew.
func (b *ProfileBuilder) SizeBytes() int64 {
	n := int64(unsafe.Sizeof(*b)) + max(b.mapBytes(), b.mapBytesPeak)
	n += sliceBytes(b.strs) + sliceBytes(b.funcs) + sliceBytes(b.maps) + sliceBytes(b.locs) + sliceBytes(b.lines)
	n += sliceBytes(b.variant) + sliceBytes(b.keyBuf)
	n += sliceBytes(b.nodeMap) + sliceBytes(b.locMap) + sliceBytes(b.fnMap) + sliceBytes(b.mapMap) + sliceBytes(b.strMap)
	n += sliceBytes(b.pathBuf) + sliceBytes(b.fnode) + sliceBytes(b.parents)
	n += b.stacks.sizeBytes() + b.fnTree.sizeBytes()
	n += sliceBytes(b.encoded)
	for _, e := range b.encoded {
		n += sliceBytes(e)
	}
	fs := &b.fast
	n += sliceBytes(fs.shards) + fs.locs.sizeBytes() + sliceBytes(fs.locSrc) + sliceBytes(fs.locWeak) + sliceBytes(fs.dealt)
	n += mapBytes(fs.known)
	for _, kp := range fs.known {
		n += int64(unsafe.Sizeof(*kp)) + sliceBytes(kp.gloc) + kp.samples.sizeBytes()
	}
	n += sliceBytes(fs.learnt)
	for _, l := range fs.learnt[:cap(fs.learnt)] {
		n += sliceBytes(l)
	}
	for _, d := range fs.dealt {
		n += sliceBytes(d)
		for _, nodes := range d {
			n += sliceBytes(nodes)
		}
	}
	for i := range cap(fs.shards) {
		sh := &fs.shards[:cap(fs.shards)][i]
		n += sh.index.sizeBytes() + sliceBytes(sh.locs) + sliceBytes(sh.start) + sliceBytes(sh.value) + sliceBytes(sh.first) + sliceBytes(sh.memo) + sliceBytes(sh.active)
	}
	return n
}

// mapBytes estimates the memory of b's maps as they are.
func (b *ProfileBuilder) mapBytes() int64 {
	n := mapBytes(b.strIDs) + mapBytes(b.funcIDs) + mapBytes(b.mapIDs) + mapBytes(b.locIDs)
	for k := range b.locIDs {
		n += int64(len(k)) // keys made by locationKey
	}
	return n
}

func (s *stackTrie) sizeBytes() int64 {
	return sliceBytes(s.parent) + sliceBytes(s.loc) + sliceBytes(s.value) + sliceBytes(s.index.slots)
}

func (ix *hashIndex) sizeBytes() int64 {
	return sliceBytes(ix.slots) + sliceBytes(ix.hashes)
}

// sliceBytes is the memory of s's backing array.
func sliceBytes[T any](s []T) int64 {
	var zero T
	return int64(cap(s)) * int64(unsafe.Sizeof(zero))
}

// mapBytes estimates the memory of m: its entries and a word of overhead
// each, with the table a third larger than its length.
func mapBytes[K comparable, V any](m map[K]V) int64 {
	var k K
	var v V
	return int64(len(m)) * (int64(unsafe.Sizeof(k)+unsafe.Sizeof(v)) + 8) * 4 / 3
}

// SetCallSite keeps only the stacks whose root-first frame names (inlined
// lines expanded) start with callSite, name by name (api.md §6.13);
// matching stacks are kept whole. An empty callSite keeps every stack. It
// applies to partitions added afterwards and is ignored under SetGoPGO.
func (b *ProfileBuilder) SetCallSite(callSite []string) {
	b.callSite = callSite
}

// SetGoPGO applies the go_pgo selector to partitions added afterwards; nil
// removes it.
func (b *ProfileBuilder) SetGoPGO(pgo *GoPGO) {
	b.pgo = pgo
}

// SetTimes sets the profile's time_nanos and duration_nanos, which
// otherwise are the end of the range given to NewProfileBuilder and its
// length.
func (b *ProfileBuilder) SetTimes(timeNanos, durationNanos int64) {
	b.timeNanos, b.durationNanos = timeNanos, durationNanos
}

// SetParallelism lets the builder work on n goroutines: AddPartition for
// partitions added without a budget or go_pgo (n is fixed by the first
// such partition), and Build. n < 2 keeps the work on the caller's
// goroutine. The profile built does not depend on n.
func (b *ProfileBuilder) SetParallelism(n int) {
	b.parallelism = n
}

// Total returns the sum of the sample values added so far.
func (b *ProfileBuilder) Total() int64 {
	total := b.total
	for i := range b.fast.shards {
		total += b.fast.shards[i].total
	}
	return total
}

// SetMaxNodes truncates every partition added afterwards on its own to a
// budget of maxNodes function-tree nodes, as Pyroscope's stores do before
// merging (api.md §6.7); maxNodes < 1 turns truncation off. It does not
// apply under SetGoPGO. See AddPartition for the algorithm.
func (b *ProfileBuilder) SetMaxNodes(maxNodes int64) {
	b.maxNodes = maxNodes
}

// AddPartition adds the samples of one partition: nodeSelf[i] is the summed
// value of the samples whose stack trace has partition node i as its leaf
// (len(nodeSelf) == p.Tree.Len()). Values ≤ 0 and empty stacks are
// skipped.
//
// With a budget set by SetMaxNodes, the partition is truncated on its own,
// the way Pyroscope v1.21.1's stores truncate a pprof answer: a function
// tree of the partition's (selected) stacks is built, frames merged by the
// partition's function ID (not by name: two functions sharing a name stay
// apart), root first. When it has more than maxNodes nodes, its nodes whose
// total is below the maxNodes-th largest total are marked. For each stack,
// with offset the number of marked functions from the leaf up to the first
// unmarked one:
//   - a stack without unmarked function (or without any function) goes to
//     a sample whose only location is the stub, a single line of a
//     function named "other";
//   - otherwise locations are kept from the root while the functions not
//     yet kept number at least offset, and the rest is replaced by one
//     stub location as the new leaf; the stub is left out when every
//     location is kept.
//
// NOTE: the second rule keeps the location holding the root-most marked
// function too (Pyroscope compares with ≥ before consuming a location), so
// one marked frame survives above the stub. The goldens depend on it.
//
// Without a budget and go_pgo, partitions go through addPartitionFast;
// the other paths use stackTrie.child. A builder that mixes both (budget
// or go_pgo changed between partitions) still sums every value, but an
// equal stack may then appear as two samples.
//
// AddPartition does not keep nodeSelf: the caller may reuse it once
// AddPartition returns.
func (b *ProfileBuilder) AddPartition(p *symdb.Partition, nodeSelf []int64) error {
	n := p.Tree.Len()
	if len(nodeSelf) != n {
		return fmt.Errorf("partition %d: %d nodes, %d values: %w",
			p.Key, n, len(nodeSelf), ErrPartitionShape)
	}
	b.beginPartition(p)
	if b.pgo != nil && (b.pgo.KeepLocations > 0 || b.pgo.AggregateCallees) {
		b.addPartitionPGO(p, nodeSelf)
		return nil
	}
	callSite := b.callSite
	if b.pgo != nil {
		callSite = nil
	}
	var match []bool
	if len(callSite) > 0 {
		if b.matcher == nil {
			b.matcher = &CallSiteMatcher{}
		}
		b.matcher.callSite = callSite
		match = b.matcher.Match(p)
	}
	truncate := b.maxNodes > 0 && b.pgo == nil
	if !truncate {
		b.addPartitionFast(p, nodeSelf, nil, match)
		return nil
	}
	parents := p.Tree.AppendParents(b.parents[:0])
	b.parents = parents // for addTruncated

	// Mark the nodes on the way to a positive value, as Tree.AddPartition.
	nodeMap := growScratch(b.nodeMap, n)
	clear(nodeMap)
	for i := n - 1; i >= 0; i-- {
		if nodeSelf[i] > 0 || nodeMap[i] != 0 {
			nodeMap[i] = 1
			if par := parents[i]; par >= 0 {
				nodeMap[par] = 1
			}
		}
	}
	for i := 0; i < n; i++ {
		if nodeMap[i] == 0 {
			continue
		}
		par := parents[i]
		if par < 0 {
			nodeMap[i] = 0
			continue
		}
		li := p.Tree.Location(int32(i))
		nodeMap[i] = b.stacks.child(nodeMap[par], b.location(p, li))
	}
	b.nodeMap = nodeMap
	b.addTruncated(p, nodeSelf, match)
	return nil
}

// AddPartitionLeaves is AddPartition for values summed per leaf of p's
// stack tree: leafSelf[k] is the value of leaf k of p.Leaves(), and no
// other node has one. Without a budget, a call site or go_pgo, only the
// leaves are visited.
func (b *ProfileBuilder) AddPartitionLeaves(p *symdb.Partition, leafSelf []int64) error {
	n := p.Tree.Len()
	leaves := p.Leaves()
	if len(leafSelf) != leaves.Count {
		return fmt.Errorf("partition %d: %d nodes, %d leaves, %d leaf values: %w",
			p.Key, n, leaves.Count, len(leafSelf), ErrPartitionShape)
	}
	if b.pgo != nil || len(b.callSite) > 0 || b.maxNodes > 0 {
		// The other paths walk values per node.
		self := growScratch(b.leafNodes, n)
		clear(self)
		for k, node := range leaves.All() {
			self[node] = leafSelf[k]
		}
		b.leafNodes = self
		return b.AddPartition(p, self)
	}
	b.beginPartition(p)
	b.addPartitionFast(p, nil, leafSelf, nil)
	return nil
}

// beginPartition readies b for partition p.
func (b *ProfileBuilder) beginPartition(p *symdb.Partition) {
	if !b.fast.pinned && !b.fast.pin() {
		b.forget()
		b.fast.pinned = true
	}
	b.locMap = resetMap(b.locMap, len(p.Locations))
	b.fnMap = resetMap(b.fnMap, len(p.Functions))
	b.mapMap = resetMap(b.mapMap, len(p.Mappings))
	b.strMapped = false
}

// addTruncated adds the selected values of partition p truncated to
// b.maxNodes (see AddPartition); b.nodeMap holds the stack of every node on
// the way to a positive value, and b.parents the parents of p's nodes.
func (b *ProfileBuilder) addTruncated(p *symdb.Partition, nodeSelf []int64, match []bool) {
	n := p.Tree.Len()
	nodeMap := b.nodeMap
	parents := b.parents[:n]
	selected := func(i int) bool {
		return nodeSelf[i] > 0 && parents[i] >= 0 && (match == nil || match[i])
	}

	// The function tree, keyed by partition function ID; fnode[i] is the
	// function node of the stack ending at partition node i.
	ft := &b.fnTree
	ft.reset()
	fnode := growScratch(b.fnode, n)
	for i := 0; i < n; i++ {
		par := parents[i]
		if par < 0 || nodeMap[i] == 0 { // not on the way to a value
			fnode[i] = 0
			continue
		}
		cur := fnode[par]
		lines := p.Locations[p.Tree.Location(int32(i))].Lines
		for j := len(lines) - 1; j >= 0; j-- {
			cur = ft.child(cur, int32(lines[j].FunctionID))
		}
		fnode[i] = cur
		if selected(i) {
			ft.value[cur] += nodeSelf[i]
		}
	}
	b.fnode = fnode
	total := ft.value
	for i := len(ft.parent) - 1; i > 0; i-- {
		total[ft.parent[i]] += total[i]
	}
	var minValue int64
	if m := int64(len(ft.parent) - 1); m > b.maxNodes {
		minValue = kthLargest(append([]int64(nil), total[1:]...), int(b.maxNodes))
	}

	stub := int32(-1)
	stubOf := func(parent int32) int32 {
		if stub < 0 {
			stub = b.stubLocation()
		}
		return b.stacks.child(parent, stub)
	}
	for i := 0; i < n; i++ {
		if !selected(i) {
			continue
		}
		v := nodeSelf[i]
		// offset: marked functions from the leaf up to the first kept one.
		offset := -1
		funcs := 0
		for f := fnode[i]; f > 0; f = ft.parent[f] {
			if total[f] >= minValue {
				offset = funcs
				break
			}
			funcs++
		}
		target := nodeMap[i]
		switch {
		case offset < 0: // no function kept, or none at all
			target = stubOf(0)
		case offset > 0:
			// Drop leaf-side locations while the functions they hold stay
			// fewer than offset.
			nd, below := int32(i), 0
			for {
				c := below + len(p.Locations[p.Tree.Location(nd)].Lines)
				if c >= offset || parents[parents[nd]] < 0 {
					break
				}
				below = c
				nd = parents[nd]
			}
			if nd != int32(i) {
				target = stubOf(nodeMap[nd])
			}
		}
		b.stacks.value[target] += v
		b.total += v
	}
}

// addPartitionPGO cuts each stack to its KeepLocations leaf-most locations
// and optionally replaces the leaf location by its callee-aggregated
// variant, merging stacks that become equal.
func (b *ProfileBuilder) addPartitionPGO(p *symdb.Partition, nodeSelf []int64) {
	keep := int(b.pgo.KeepLocations)
	path := b.pathBuf
	for i, v := range nodeSelf {
		if v <= 0 || p.Tree.Parent(int32(i)) < 0 {
			continue
		}
		path = path[:0]
		for nd := int32(i); p.Tree.Parent(nd) >= 0 && (keep == 0 || len(path) < keep); nd = p.Tree.Parent(nd) {
			path = append(path, nd)
		}
		cur := int32(0)
		for j := len(path) - 1; j >= 0; j-- {
			loc := b.location(p, p.Tree.Location(path[j]))
			if j == 0 && b.pgo.AggregateCallees {
				loc = b.calleeVariant(loc)
			}
			cur = b.stacks.child(cur, loc)
		}
		b.stacks.value[cur] += v
		b.total += v
	}
	b.pathBuf = path
}

func resetMap(s []int32, n int) []int32 {
	s = growScratch(s, n)
	for i := range s {
		s[i] = -1
	}
	return s
}

func (b *ProfileBuilder) str(s string) int32 {
	if id, ok := b.strIDs[s]; ok {
		return id
	}
	id := int32(len(b.strs))
	// A copy: b is kept from one profile to the next, and would keep the
	// memory of every block its strings came from.
	s = strings.Clone(s)
	b.strs = append(b.strs, s)
	b.strIDs[s] = id
	return id
}

// partitionStr returns the builder ID of string si of partition p.
func (b *ProfileBuilder) partitionStr(p *symdb.Partition, si uint32) int32 {
	if !b.strMapped {
		b.strMap = resetMap(b.strMap, len(p.Strings))
		b.strMapped = true
	}
	if id := b.strMap[si]; id >= 0 {
		return id
	}
	id := b.str(p.Strings[si])
	b.strMap[si] = id
	return id
}

func (b *ProfileBuilder) function(p *symdb.Partition, fi uint32) int32 {
	if id := b.fnMap[fi]; id >= 0 {
		return id
	}
	f := &p.Functions[fi]
	// A partition's functions share file names, and most have their name
	// as system name: each string is looked up once per partition.
	id := b.internFunction(pbFunction{
		name:       b.partitionStr(p, f.Name),
		systemName: b.partitionStr(p, f.SystemName),
		filename:   b.partitionStr(p, f.Filename),
		startLine:  f.StartLine,
	})
	b.fnMap[fi] = id
	return id
}

func (b *ProfileBuilder) internFunction(f pbFunction) int32 {
	if id, ok := b.funcIDs[f]; ok {
		return id
	}
	id := int32(len(b.funcs))
	b.funcs = append(b.funcs, f)
	b.funcIDs[f] = id
	return id
}

func (b *ProfileBuilder) mapping(p *symdb.Partition, mi uint32) int32 {
	if int(mi) >= len(p.Mappings) {
		return -1 // a partition without mappings
	}
	if id := b.mapMap[mi]; id >= 0 {
		return id
	}
	m := &p.Mappings[mi]
	size := m.MemoryLimit - m.MemoryStart
	size = (size + 0xfff) &^ 0xfff
	key := pbMappingKey{size: size, offset: m.FileOffset}
	if p.Strings[m.BuildID] != "" {
		key.file = b.str(p.Strings[m.BuildID])
	} else {
		key.file = b.str(p.Strings[m.Filename])
	}
	id, ok := b.mapIDs[key]
	if !ok {
		id = int32(len(b.maps))
		b.maps = append(b.maps, pbMapping{
			start:           m.MemoryStart,
			limit:           m.MemoryLimit,
			offset:          m.FileOffset,
			filename:        b.str(p.Strings[m.Filename]),
			buildID:         b.str(p.Strings[m.BuildID]),
			hasFunctions:    m.HasFunctions,
			hasFilenames:    m.HasFilenames,
			hasLineNumbers:  m.HasLineNumbers,
			hasInlineFrames: m.HasInlineFrames,
		})
		b.mapIDs[key] = id
	}
	b.mapMap[mi] = id
	return id
}

// location returns the builder ID of partition location li.
func (b *ProfileBuilder) location(p *symdb.Partition, li int32) int32 {
	if id := b.locMap[li]; id >= 0 {
		return id
	}
	mapping, start := b.locationLines(p, li)
	loc := &p.Locations[li]
	id := b.internLocation(mapping, loc.Address, loc.IsFolded, start)
	b.locMap[li] = id
	return id
}

// appendLocation adds partition location li as a new builder location
// without looking for an equal one: for the fast path, which knows it is
// new by content, as long as no location was interned otherwise.
func (b *ProfileBuilder) appendLocation(p *symdb.Partition, li int32) int32 {
	mapping, start := b.locationLines(p, li)
	loc := &p.Locations[li]
	id := int32(len(b.locs))
	b.locs = append(b.locs, pbLocation{
		mapping:   mapping,
		address:   loc.Address,
		folded:    loc.IsFolded,
		lineStart: int32(start),
		lineCount: int32(len(b.lines) - start),
	})
	b.locMap[li] = id
	return id
}

// locationLines appends the lines of partition location li to b.lines and
// returns its builder mapping and the position of its first line.
func (b *ProfileBuilder) locationLines(p *symdb.Partition, li int32) (mapping int32, start int) {
	loc := &p.Locations[li]
	mapping = b.mapping(p, loc.MappingID)
	start = len(b.lines)
	for _, l := range loc.Lines {
		b.lines = append(b.lines, pbLine{function: b.function(p, l.FunctionID), line: l.Line})
	}
	return mapping, start
}

// locationKey appends the key locIDs knows a location by.
func locationKey(key []byte, mapping int32, address uint64, lines []pbLine) []byte {
	key = binary.LittleEndian.AppendUint32(key, uint32(mapping))
	key = binary.LittleEndian.AppendUint64(key, address)
	for _, l := range lines {
		key = binary.LittleEndian.AppendUint32(key, uint32(l.function))
		key = binary.LittleEndian.AppendUint64(key, uint64(l.line))
	}
	return key
}

// internLocation deduplicates the location whose lines were just appended
// to b.lines from start on; a duplicate's lines are dropped again.
func (b *ProfileBuilder) internLocation(mapping int32, address uint64, folded bool, start int) int32 {
	for ; b.keyed < len(b.locs); b.keyed++ {
		l := &b.locs[b.keyed]
		b.keyBuf = locationKey(b.keyBuf[:0], l.mapping, l.address, b.lines[l.lineStart:l.lineStart+l.lineCount])
		b.locIDs[string(b.keyBuf)] = int32(b.keyed)
	}
	key := locationKey(b.keyBuf[:0], mapping, address, b.lines[start:])
	b.keyBuf = key
	if id, ok := b.locIDs[string(key)]; ok {
		b.lines = b.lines[:start]
		return id
	}
	id := int32(len(b.locs))
	b.locs = append(b.locs, pbLocation{
		mapping:   mapping,
		address:   address,
		folded:    folded,
		lineStart: int32(start),
		lineCount: int32(len(b.lines) - start),
	})
	b.locIDs[string(key)] = id
	b.keyed = len(b.locs)
	b.slowLocs = true
	return id
}

// calleeVariant returns loc with the line number of its first line set to
// 0 (go_pgo aggregate_callees).
func (b *ProfileBuilder) calleeVariant(loc int32) int32 {
	for len(b.variant) < len(b.locs) {
		b.variant = append(b.variant, -1)
	}
	if v := b.variant[loc]; v >= 0 {
		return v
	}
	l := b.locs[loc]
	v := loc
	if l.lineCount > 0 && b.lines[l.lineStart].line != 0 {
		start := len(b.lines)
		b.lines = append(b.lines, b.lines[l.lineStart:l.lineStart+l.lineCount]...)
		b.lines[start].line = 0
		v = b.internLocation(l.mapping, l.address, l.folded, start)
	}
	b.variant[loc] = v
	return v
}

// stubLocation returns the location that stands for truncated frames: a
// single line of a function named "other".
func (b *ProfileBuilder) stubLocation() int32 {
	other := b.str(otherName)
	fn := b.internFunction(pbFunction{name: other, systemName: other, filename: b.str("")})
	start := len(b.lines)
	b.lines = append(b.lines, pbLine{function: fn})
	return b.internLocation(stubMapping, 0, false, start)
}

// Build returns the merged profile. With no sample the profile has the
// empty shape of §7: one empty sample type, an empty period type and the
// string table [""].
func (b *ProfileBuilder) Build() *googlev1.Profile {
	arenas, refs, values := b.samples()
	if len(refs) == 0 {
		return &googlev1.Profile{
			SampleType:  []*googlev1.ValueType{{}},
			PeriodType:  &googlev1.ValueType{},
			StringTable: []string{""},
		}
	}
	return b.emit(arenas, refs, values)
}

// sampleRef is where a sample's stack is stored: from position start of
// arena locs, encoded as in stackShard.
type sampleRef struct {
	arena, start int32
}

// samples returns the samples' stacks and values: first those of the trie
// in node order, then those of the shards in the order their first values
// were added. arenas[0] holds the trie's stacks, arenas[1+k] are shard k's
// locs.
func (b *ProfileBuilder) samples() (arenas [][]int32, refs []sampleRef, values []int64) {
	trie := &b.stacks
	var trieLocs []int32
	for i := 1; i < len(trie.parent); i++ {
		if trie.value[i] > 0 {
			refs = append(refs, sampleRef{0, int32(len(trieLocs))})
			for n := int32(i); n > 0; n = trie.parent[n] {
				trieLocs = append(trieLocs, trie.loc[n])
			}
			trieLocs = append(trieLocs, -1)
			values = append(values, trie.value[i])
		}
	}
	shards := b.fast.shards
	arenas = append(arenas, trieLocs)
	n := len(refs)
	for k := range shards {
		arenas = append(arenas, shards[k].locs)
		n += len(shards[k].active)
	}
	refs = slices.Grow(refs, n-len(refs))
	values = slices.Grow(values, n-len(values))
	// A merge of the shards' samples with values, each shard's in order
	// of first value already.
	next := make([]int32, len(shards))
	firstOf := func(j int) uint64 { return shards[j].first[shards[j].active[next[j]]] }
	for {
		k := -1
		for j := range shards {
			if int(next[j]) < len(shards[j].active) && (k < 0 || firstOf(j) < firstOf(k)) {
				k = j
			}
		}
		if k < 0 {
			break
		}
		s := shards[k].active[next[k]]
		next[k]++
		refs = append(refs, sampleRef{int32(1 + k), shards[k].start[s]})
		values = append(values, shards[k].value[s])
	}
	return arenas, refs, values
}

// goRanges runs f on parts contiguous ranges of [0, n), each on a
// goroutine of its own (on the caller's when parts is 1), and returns a
// function that waits for them: the caller may work meanwhile.
func goRanges(n, parts int, f func(part, lo, hi int)) (wait func()) {
	if parts <= 1 {
		f(0, 0, n)
		return func() {}
	}
	var wg sync.WaitGroup
	for part := range parts {
		lo, hi := n*part/parts, n*(part+1)/parts
		wg.Go(func() { f(part, lo, hi) })
	}
	return wg.Wait
}

// firstUses lists, for each of parts contiguous ranges of refs, the builder
// locations its samples use, in the order they are first used within the
// range. Ranges are walked on goroutines of their own.
func firstUses(arenas [][]int32, refs []sampleRef, nLocs, parts int) [][]int32 {
	firstUse := make([][]int32, parts)
	goRanges(len(refs), parts, func(part, lo, hi int) {
		seen := make([]bool, nLocs)
		var first []int32
		for i := lo; i < hi; i++ {
			locs := arenas[refs[i].arena]
			for k := refs[i].start; locs[k] != -1; k = nextInStack(locs, k) {
				if l := locs[k]; !seen[l] {
					seen[l] = true
					first = append(first, l)
				}
			}
		}
		firstUse[part] = first
	})()
	return firstUse
}

// numberLocations numbers the locations that the ranges of firstUses list
// from 1, in order of first use over all samples, and returns them in that
// order: taking the lists range by range numbers them as one pass would,
// whatever the number of ranges. locID[l] becomes location l's number.
func numberLocations(firstUse [][]int32, locID []uint64) []int32 {
	var locOrder []int32
	for _, first := range firstUse {
		for _, l := range first {
			if locID[l] == 0 {
				locOrder = append(locOrder, l)
				locID[l] = uint64(len(locOrder))
			}
		}
	}
	return locOrder
}

// emitSamples fills the sample messages of refs, numbering locations by
// first use (see numberLocations), and returns the locations used in that
// order. Contiguous ranges of samples are spread over b.parallelism
// goroutines.
func (b *ProfileBuilder) emitSamples(arenas [][]int32, refs []sampleRef, values []int64,
	sampleMsg []googlev1.Sample, samplePtr []*googlev1.Sample, locID []uint64) []int32 {
	parts := max(1, min(b.parallelism, len(refs)))
	locOrder := numberLocations(firstUses(arenas, refs, len(locID), parts), locID)
	goRanges(len(refs), parts, func(_, lo, hi int) {
		n := 0
		for i := lo; i < hi; i++ {
			locs := arenas[refs[i].arena]
			for k := refs[i].start; locs[k] != -1; k = nextInStack(locs, k) {
				n++
			}
		}
		ids := make([]uint64, 0, n)
		for i := lo; i < hi; i++ {
			start := len(ids)
			locs := arenas[refs[i].arena]
			for k := refs[i].start; locs[k] != -1; k = nextInStack(locs, k) {
				ids = append(ids, locID[locs[k]])
			}
			sampleMsg[i].LocationId = ids[start:len(ids):len(ids)]
			sampleMsg[i].Value = values[i : i+1 : i+1]
			samplePtr[i] = &sampleMsg[i]
		}
	})()
	return locOrder
}

// emit renumbers everything the samples reference densely from 1, in order
// of first use, and builds the profile messages.
func (b *ProfileBuilder) emit(arenas [][]int32, refs []sampleRef, values []int64) *googlev1.Profile {
	locID := make([]uint64, len(b.locs))
	sampleMsg := make([]googlev1.Sample, len(refs))
	samplePtr := make([]*googlev1.Sample, len(refs))
	locOrder := b.emitSamples(arenas, refs, values, sampleMsg, samplePtr, locID)
	p := b.emitTables(locOrder)
	p.Sample = samplePtr
	return p
}
