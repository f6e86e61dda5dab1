// Package blockwriter writes Pyroscope v1 blocks (meta.json version 3,
// index.tsdb, profiles.parquet and symdb format 2) into an object-storage
// bucket from pprof profiles, one block per time window.
//
// It is the inverse of pkg/blockreader and pkg/symdb: what it writes is laid
// out as block-format.md §13 describes and must read back through them
// unchanged. It knows nothing about queries or the API, and nothing about
// where profiles come from: callers hand it decoded profiles with their
// series labels and a timestamp.
package blockwriter
