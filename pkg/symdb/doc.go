// Package symdb reads the stack traces and symbols of a block in every
// format Phlare and Pyroscope have written: stacktraces.parquet with root
// symbol tables (meta v1), symdb format 1 (meta v2), symdb format 2
// (symbols/*.parquet) and symdb format 3 (symbols.symdb).
//
// Whatever the format, a partition comes out as one Partition: a
// parent-pointer tree of stack-trace nodes plus flat symbol tables, checked
// once at load so that the hot paths of its users need no bounds checks.
// It knows nothing about queries, flame graphs or the API.
package symdb
