// Package symdb reads the stack traces and symbols of a block in every
// format Phlare and Pyroscope have written: stacktraces.parquet with root
// symbol tables (meta v1), symdb format 1 (meta v2), symdb format 2
// (symbols/*.parquet) and symdb format 3 (symbols.symdb).
//
// Open reads and verifies a block's symdb index and nothing else; then
// Reader.Partition loads one partition on first use: its stack-trace
// chunks (CRC-checked, decoded and concatenated) and its symbol tables.
// Whatever the format, a partition comes out as one Partition: a
// parent-pointer tree of stack-trace nodes plus flat symbol tables, checked
// once at load so that the hot paths of its users need no bounds checks.
// Loaded partitions stay in the Reader, or in a PartitionCache given to it.
//
// It knows nothing about queries, flame graphs or the API, and its errors
// name the file that was bad but not the block: callers add that.
package symdb
