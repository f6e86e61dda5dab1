package cache

import "sync"

// ObjectCache keeps decoded objects in process. Its method set is that of
// symdb.PartitionCache when K is uint64 and V is *symdb.Partition.
// Implementations are safe for concurrent use and may drop entries at any
// time.
type ObjectCache[K comparable, V any] interface {
	Get(key K) (V, bool)
	Add(key K, value V)
}

// ObjectLRU is an ObjectCache bounded by the sum of size(value) over its
// entries, evicting the least recently used first. It uses a single mutex:
// decoded objects are looked up once per partition per query, far less
// often than bytes, and one budget lets a single large object use all of
// it.
type ObjectLRU[K comparable, V any] struct {
	size func(V) int64

	mu  sync.Mutex
	lru lru[K, V]
}

// NewObjectLRU returns an ObjectLRU that holds at most maxBytes as measured
// by size, which must return the same value for a value every time. An
// object larger than maxBytes is not kept; maxBytes <= 0 keeps nothing.
func NewObjectLRU[K comparable, V any](maxBytes int64, size func(V) int64) *ObjectLRU[K, V] {
	c := &ObjectLRU[K, V]{size: size}
	c.lru.init(maxBytes)
	return c
}

// Get returns the object stored under key and marks it recently used.
func (c *ObjectLRU[K, V]) Get(key K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.lru.get(key)
	if !ok {
		var zero V
		return zero, false
	}
	return e.value, true
}

// Add stores value under key, replacing what the key held, and evicts the
// least recently used objects until the total fits the bound.
func (c *ObjectLRU[K, V]) Add(key K, value V) {
	size := c.size(value) // outside the lock: it may walk the object
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lru.add(key, value, size)
}

// Stats reports the entries and bytes held and the evictions so far.
func (c *ObjectLRU[K, V]) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.stats()
}

// ScopedKey is the key of an object cache shared by many owners whose own
// keys overlap, such as the partition keys of different blocks.
type ScopedKey[S, K comparable] struct {
	Scope S
	Key   K
}

// Scope returns the view of a shared cache that owner scope sees: its keys
// are paired with scope, so owners cannot read each other's entries while
// sharing one bound. For symdb, one ObjectLRU keyed by
// ScopedKey[ulid.ULID, uint64] and one Scope per block give every Reader a
// symdb.PartitionCache.
func Scope[S, K comparable, V any](shared ObjectCache[ScopedKey[S, K], V], scope S) ObjectCache[K, V] {
	return scopedCache[S, K, V]{shared: shared, scope: scope}
}

type scopedCache[S, K comparable, V any] struct {
	shared ObjectCache[ScopedKey[S, K], V]
	scope  S
}

func (c scopedCache[S, K, V]) Get(key K) (V, bool) {
	return c.shared.Get(ScopedKey[S, K]{Scope: c.scope, Key: key})
}

func (c scopedCache[S, K, V]) Add(key K, value V) {
	c.shared.Add(ScopedKey[S, K]{Scope: c.scope, Key: key}, value)
}
