package flamegraph

import "errors"

var (
	// ErrInvalidMaxNodes is wrapped by the errors of ResolveMaxNodes: the
	// requested node budget is negative or above the limit. The API edge
	// maps it to invalid_argument.
	ErrInvalidMaxNodes = errors.New("invalid max nodes")

	// ErrMalformedTree is wrapped by UnmarshalTree when the bytes are not a
	// tree in Pyroscope's tree format.
	ErrMalformedTree = errors.New("malformed tree bytes")

	// ErrPartitionShape is returned when the per-node values handed to
	// AddPartition do not match the partition's node count.
	ErrPartitionShape = errors.New("node values do not match the partition")
)
