// Package cache holds the caches the querier puts in front of object
// storage: a byte Cache for what repeats across queries and replicas
// (parquet footers and page indexes, index sections, symdb partition
// headers, whole merged results of immutable blocks) with in-memory,
// memcached and no-op backends, and ObjectLRU, an in-process LRU for decoded
// Go objects such as symdb partitions, bounded by a size function.
//
// Instrumentation is a wrapper (Instrument, InstrumentObjects), not part of
// any backend. Config, RegisterFlags and New build a Cache from the
// -cache.* flags.
//
// The package owns eviction, byte accounting and the mapping of keys onto
// memcached. It must not know what the cached bytes or objects mean, how
// keys are built, or which blocks exist: callers choose keys (which must
// name immutable content, since nothing is invalidated) and decode values.
// Caches are best-effort: any entry may be missing on the next Get.
package cache
