package blockwriter

import (
	"encoding/binary"
	"unsafe"

	"github.com/cespare/xxhash/v2"
)

// function, mapping and location are symbols of one partition. Every
// reference is a position in the same partition's tables.
type function struct {
	name, systemName, filename uint32
	startLine                  int64
}

type mapping struct {
	memoryStart, memoryLimit, fileOffset uint64
	filename, buildID                    uint32
	flags                                uint8 // bit 3 functions, 2 filenames, 1 line numbers, 0 inline frames
}

type line struct {
	functionID uint32
	line       int64
}

type location struct {
	mappingID uint32
	address   uint64
	isFolded  bool
	lines     []line
}

// partition accumulates the stack traces and symbols of one symdb
// partition of one block. Symbols are deduplicated by content, strings
// start with "" and stack traces share a parent-pointer tree whose node 0
// is the root (block-format.md §10, §13 step 5).
type partition struct {
	key uint64

	strings       []string
	stringIndex   map[string]uint32
	functions     []function
	functionIndex map[function]uint32
	mappings      []mapping
	mappingIndex  map[mapping]uint32
	locations     []location
	locationIndex map[string]uint32
	locationKey   []byte // scratch for locationIndex keys

	// parents and nodeLocations are the tree; children finds a node's
	// child by (parent, location).
	parents       []int32
	nodeLocations []int32
	children      map[uint64]int32
	// isStack marks the nodes that are the leaf of some stack: their
	// number is the number of distinct stack traces.
	isStack   []bool
	numStacks int
	// leafCache finds the leaf of a whole stack without walking the
	// children map, keyed by a hash of its locations; a hit is verified.
	leafCache map[uint64]int32
}

func newPartition(key uint64) *partition {
	return &partition{
		key:           key,
		strings:       []string{""},
		stringIndex:   map[string]uint32{"": 0},
		functionIndex: map[function]uint32{},
		mappingIndex:  map[mapping]uint32{},
		locationIndex: map[string]uint32{},
		parents:       []int32{-1},
		nodeLocations: []int32{0},
		isStack:       []bool{false},
		children:      map[uint64]int32{},
		leafCache:     map[uint64]int32{},
	}
}

func (p *partition) internString(s string) uint32 {
	if i, ok := p.stringIndex[s]; ok {
		return i
	}
	i := uint32(len(p.strings))
	p.strings = append(p.strings, s)
	p.stringIndex[s] = i
	return i
}

func (p *partition) internFunction(f function) uint32 {
	if i, ok := p.functionIndex[f]; ok {
		return i
	}
	i := uint32(len(p.functions))
	p.functions = append(p.functions, f)
	p.functionIndex[f] = i
	return i
}

func (p *partition) internMapping(m mapping) uint32 {
	if i, ok := p.mappingIndex[m]; ok {
		return i
	}
	i := uint32(len(p.mappings))
	p.mappings = append(p.mappings, m)
	p.mappingIndex[m] = i
	return i
}

// internLocation takes ownership of loc.lines when loc is new.
func (p *partition) internLocation(loc location) uint32 {
	k := p.locationKey[:0]
	k = binary.AppendUvarint(k, uint64(loc.mappingID))
	k = binary.AppendUvarint(k, loc.address)
	if loc.isFolded {
		k = append(k, 1)
	} else {
		k = append(k, 0)
	}
	for _, l := range loc.lines {
		k = binary.AppendUvarint(k, uint64(l.functionID))
		k = binary.AppendVarint(k, l.line)
	}
	p.locationKey = k
	if i, ok := p.locationIndex[string(k)]; ok {
		return i
	}
	i := uint32(len(p.locations))
	p.locations = append(p.locations, loc)
	p.locationIndex[string(k)] = i
	return i
}

// insertStack adds a stack of partition locations, leaf first, and returns
// its stack-trace ID: the index of its leaf node. The stack must not be
// empty.
func (p *partition) insertStack(leafFirst []int32) uint32 {
	h := xxhash.Sum64(unsafe.Slice((*byte)(unsafe.Pointer(&leafFirst[0])), len(leafFirst)*4))
	if n, ok := p.leafCache[h]; ok && p.matches(n, leafFirst) {
		return uint32(n)
	}
	node := int32(0)
	for j := len(leafFirst) - 1; j >= 0; j-- {
		loc := leafFirst[j]
		k := uint64(uint32(node))<<32 | uint64(uint32(loc))
		c, ok := p.children[k]
		if !ok {
			c = int32(len(p.parents))
			p.parents = append(p.parents, node)
			p.nodeLocations = append(p.nodeLocations, loc)
			p.isStack = append(p.isStack, false)
			p.children[k] = c
		}
		node = c
	}
	if !p.isStack[node] {
		p.isStack[node] = true
		p.numStacks++
	}
	p.leafCache[h] = node
	return uint32(node)
}

// matches reports whether node n is the leaf of exactly the stack leafFirst.
func (p *partition) matches(n int32, leafFirst []int32) bool {
	for _, loc := range leafFirst {
		if n <= 0 || p.nodeLocations[n] != loc {
			return false
		}
		n = p.parents[n]
	}
	return n == 0
}
