package symdb

import (
	"errors"
	"fmt"
)

// ErrStacktraceOutOfRange is returned for a stack-trace ID that lies beyond
// the chunks of its partition: the profiles and symbols disagree.
var ErrStacktraceOutOfRange = errors.New("stack trace ID out of range")

// Partition is the decoded stack traces and symbols of one partition (the
// whole block for meta v1). All references are positions in the slices of
// the same Partition, and every one of them has been checked at load time.
type Partition struct {
	// Key is the partition key (StacktracePartition); 0 for meta v1.
	Key uint64

	// Parents and NodeLocations describe the stack-trace tree, all chunks
	// concatenated: node i has parent Parents[i] < i, or -1 for a chunk's
	// root, and location NodeLocations[i] (meaningless for a root). A stack
	// is identified by its leaf node; walking parents up to the root gives
	// its locations leaf first.
	Parents       []int32
	NodeLocations []int32

	Locations []Location
	Functions []Function
	Mappings  []Mapping
	Strings   []string

	// nodeOfID maps a stack-trace ID to its leaf node; see NodeOf.
	nodeOfID func(id uint64) (int32, error)
}

// Location is a pprof location. Lines are innermost (inlined) first.
type Location struct {
	MappingID uint32
	Address   uint64
	IsFolded  bool
	Lines     []Line
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

// NodeOf returns the leaf node of a stack-trace ID, or -1 when the ID names
// the empty stack (symdb reserves ID 0 and each chunk's root; a node beyond
// a chunk's end is empty too, as in Pyroscope). An ID whose chunk does not
// exist is ErrStacktraceOutOfRange.
func (p *Partition) NodeOf(id uint64) (int32, error) {
	if p.nodeOfID == nil {
		return -1, fmt.Errorf("partition %d has no stack traces: %w", p.Key, ErrStacktraceOutOfRange)
	}
	return p.nodeOfID(id)
}
