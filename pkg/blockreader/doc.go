// Package blockreader opens and reads one Pyroscope/Phlare v1 block: its
// meta.json, its series index (index.tsdb) and its profiles table
// (profiles.parquet).
//
// It knows the on-disk formats byte by byte and nothing about tenants,
// buckets, queries or the API: callers hand it bytes (or a reader) and get
// typed values or errors that name what was malformed.
package blockreader
