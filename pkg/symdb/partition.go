package symdb

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"unsafe"
)

// ErrStacktraceOutOfRange is returned for a stack-trace ID that lies beyond
// the chunks of its partition: the profiles and symbols disagree.
var ErrStacktraceOutOfRange = errors.New("stack trace ID out of range")

// Partition is the decoded stack traces and symbols of one partition (the
// whole block for meta v1). All references are positions in the slices of
// the same Partition, and every one of them has been checked at load time.
//
// NOTE: a Partition is immutable once returned and may be shared by any
// number of goroutines. For meta v1 and v2 blocks the four symbol tables are
// shared by every partition of the block.
type Partition struct {
	// Key is the partition key (StacktracePartition); 0 for meta v1.
	Key uint64

	// Tree is the stack-trace tree, all chunks concatenated.
	Tree StackTree

	Locations []Location
	Functions []Function
	Mappings  []Mapping
	Strings   []string

	// ids maps a stack-trace ID to its leaf node; see NodeOf.
	ids stacktraceIDs

	derivedMu    sync.Mutex
	derived      map[any]any  // see Derived
	derivedBytes atomic.Int64 // what SizeBytes counts of derived values
	// remeasure, set by the Reader that caches p, has the cache measure
	// p again after a derived value made it larger.
	remeasure func()
}

// Location is a pprof location. Lines are innermost (inlined) first.
//
// NOTE: the fields are ordered so that the struct has no padding beyond
// its last: 40 bytes instead of 48, per location of every loaded partition.
type Location struct {
	Address   uint64
	Lines     []Line
	MappingID uint32
	IsFolded  bool
}

// Line is one frame of a location.
type Line struct {
	FunctionID uint32
	Line       int64
}

// Function is a pprof function; names are positions in Strings.
type Function struct {
	Name       uint32
	SystemName uint32
	Filename   uint32
	StartLine  int64
}

// Mapping is a pprof mapping; Filename and BuildID are positions in Strings.
type Mapping struct {
	MemoryStart     uint64
	MemoryLimit     uint64
	FileOffset      uint64
	Filename        uint32
	BuildID         uint32
	HasFunctions    bool
	HasFilenames    bool
	HasLineNumbers  bool
	HasInlineFrames bool
}

// stacktraceIDs is how a partition numbers its stacks.
//
// symdb (formats 1-3): chunk k owns IDs [k·maxNodes, (k+1)·maxNodes) and
// its nodes are [chunkStart[k], chunkStart[k+1]) of Tree; local ID 0 is the
// chunk's root.
//
// meta v1 (stacktraces.parquet): leafOfRow[id] is the leaf node of row id,
// or -1 for an empty stack.
type stacktraceIDs struct {
	maxNodes   uint64  // M of the first chunk; 0 when there are no chunks
	chunkStart []int32 // len(chunks)+1 node offsets

	rowMode   bool
	leafOfRow []int32
}

// Derived returns the value that build computes from p, computing it on the
// first call for key and keeping it for as long as p lives. Users of a
// partition keep structures derived from it here (a call tree merged by
// function name, say) so that they are built once and freed with it.
//
// A value with a SizeBytes() int64 method is counted by p's SizeBytes from
// then on, and a cache holding p measures it again, so that a cache bound
// covers what its partitions carry.
func (p *Partition) Derived(key any, build func() any) any {
	p.derivedMu.Lock()
	if v, ok := p.derived[key]; ok {
		p.derivedMu.Unlock()
		return v
	}
	v := build()
	if p.derived == nil {
		p.derived = make(map[any]any)
	}
	p.derived[key] = v
	remeasure := p.remeasure
	p.derivedMu.Unlock()
	if sz, ok := v.(interface{ SizeBytes() int64 }); ok {
		p.derivedBytes.Add(sz.SizeBytes())
		if remeasure != nil {
			remeasure()
		}
	}
	return v
}

// NodeOf returns the leaf node of a stack-trace ID, or -1 when the ID names
// the empty stack (symdb reserves ID 0 and each chunk's root; a node beyond
// a chunk's end is empty too, as in Pyroscope). An ID whose chunk does not
// exist is ErrStacktraceOutOfRange.
//
// For meta v1 blocks the ID is the row number of stacktraces.parquet, and
// ID 0 is a real stack; an ID past the last row is ErrStacktraceOutOfRange.
func (p *Partition) NodeOf(id uint64) (int32, error) {
	ids := &p.ids
	if ids.rowMode {
		if id >= uint64(len(ids.leafOfRow)) {
			return -1, fmt.Errorf("partition %d: stack trace %d of %d: %w", p.Key, id, len(ids.leafOfRow), ErrStacktraceOutOfRange)
		}
		return ids.leafOfRow[id], nil
	}
	if ids.maxNodes == 0 {
		if id == 0 {
			return -1, nil
		}
		return -1, fmt.Errorf("partition %d has no stack traces (ID %d): %w", p.Key, id, ErrStacktraceOutOfRange)
	}
	chunk, local := id/ids.maxNodes, id%ids.maxNodes
	if local == 0 {
		return -1, nil
	}
	if chunk >= uint64(len(ids.chunkStart)-1) {
		return -1, fmt.Errorf("partition %d: stack trace %d is in chunk %d of %d: %w", p.Key, id, chunk, len(ids.chunkStart)-1, ErrStacktraceOutOfRange)
	}
	start, end := ids.chunkStart[chunk], ids.chunkStart[chunk+1]
	if local >= uint64(end-start) {
		return -1, nil
	}
	return start + int32(local), nil
}

// DirectIDs returns n such that every stack-trace ID in [1, n) is its own
// leaf node: NodeOf(id) == id. Those are the IDs of the first symdb chunk,
// most IDs of most partitions, so hot loops resolve them without a call and
// leave the others to NodeOf. It is 0 for meta v1 partitions.
func (p *Partition) DirectIDs() uint64 {
	ids := &p.ids
	if ids.rowMode || len(ids.chunkStart) < 2 {
		return 0
	}
	return min(uint64(ids.chunkStart[1]), ids.maxNodes)
}

// AppendLocations appends the locations of a stack-trace ID to dst, leaf
// first, and returns the extended slice. The empty stack appends nothing.
func (p *Partition) AppendLocations(dst []int32, id uint64) ([]int32, error) {
	n, err := p.NodeOf(id)
	if err != nil {
		return dst, err
	}
	t := &p.Tree
	if n < 0 {
		return dst, nil
	}
	for par := t.Parent(n); par >= 0; par = t.Parent(n) {
		dst = append(dst, t.Location(n))
		n = par
	}
	return dst, nil
}

// NumStacktraceChunks returns the number of symdb stack-trace chunks the
// partition was made of (0 for meta v1).
func (p *Partition) NumStacktraceChunks() int {
	if p.ids.rowMode || len(p.ids.chunkStart) == 0 {
		return 0
	}
	return len(p.ids.chunkStart) - 1
}

// SizeBytes estimates the memory the partition holds, derived values with a
// size included (see Derived), for caches that are bounded by size. Symbol
// tables shared with other partitions of a meta v1 or v2 block are counted
// in full.
func (p *Partition) SizeBytes() int64 {
	n := int64(unsafe.Sizeof(*p))
	n += p.Tree.SizeBytes()
	n += int64(cap(p.ids.chunkStart)+cap(p.ids.leafOfRow)) * 4
	n += int64(cap(p.Locations)) * int64(unsafe.Sizeof(Location{}))
	for i := range p.Locations {
		n += int64(len(p.Locations[i].Lines)) * int64(unsafe.Sizeof(Line{}))
	}
	n += int64(cap(p.Functions)) * int64(unsafe.Sizeof(Function{}))
	n += int64(cap(p.Mappings)) * int64(unsafe.Sizeof(Mapping{}))
	n += int64(cap(p.Strings)) * int64(unsafe.Sizeof(""))
	for _, s := range p.Strings {
		n += int64(len(s))
	}
	return n + p.derivedBytes.Load()
}

// setRemeasure sets the function Derived calls after p grew.
func (p *Partition) setRemeasure(f func()) {
	p.derivedMu.Lock()
	p.remeasure = f
	p.derivedMu.Unlock()
}
