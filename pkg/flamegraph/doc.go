// Package flamegraph owns everything between resolved stack traces and the
// shapes a client receives: the call tree merged by function name (Tree),
// its flame graph layout with node-budget truncation (FlameGraph), the tree
// byte format of PROFILE_FORMAT_TREE (MarshalTree, UnmarshalTree), the
// stages of Pyroscope's read path that truncate a tree before it is laid
// out (AddPartitionTruncated, Truncate), the diff of two trees (NewDiff),
// the merged pprof profile of SelectMergeProfile (ProfileBuilder) and the
// flamebearer JSON of the legacy /pyroscope/render endpoints.
//
// Its input is the symdb.Partition contract plus per-node sample values
// summed by the caller; it knows nothing about blocks, selectors, time
// ranges, tenants or transports, and it never maps errors to API codes (it
// returns sentinel errors such as ErrInvalidMaxNodes for the API edge to
// map).
//
// The layouts follow Pyroscope v1.21.1 as described in docs/api.md §6.5,
// §6.7, §6.9 and §8. Where Pyroscope's behaviour is a quirk that the golden
// answers depend on, the code says so next to it.
package flamegraph
