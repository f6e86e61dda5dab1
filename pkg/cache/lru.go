package cache

// lru is a least-recently-used list bounded by the sum of its entries'
// sizes. It is not safe for concurrent use: its owners lock around it.
// NOTE: an lru must not be copied after its first use; the list sentinel
// points at itself.
type lru[K comparable, V any] struct {
	maxBytes int64
	bytes    int64
	items    map[K]*lruEntry[K, V]
	root     lruEntry[K, V] // sentinel: root.next is the most recently used

	evictions uint64
	skipped   uint64
}

type lruEntry[K comparable, V any] struct {
	key        K
	value      V
	size       int64
	prev, next *lruEntry[K, V]
}

func (l *lru[K, V]) init(maxBytes int64) {
	l.maxBytes = maxBytes
	l.items = make(map[K]*lruEntry[K, V])
	l.root.prev, l.root.next = &l.root, &l.root
}

// get returns the entry for key and marks it most recently used.
func (l *lru[K, V]) get(key K) (*lruEntry[K, V], bool) {
	e, ok := l.items[key]
	if !ok {
		return nil, false
	}
	l.moveToFront(e)
	return e, true
}

// add stores value under key as the most recently used entry, replacing
// any entry the key had, and evicts the least recently used entries until
// the total size fits maxBytes again. A value larger than maxBytes on its
// own is not stored (and the key's old entry is dropped, as it is stale);
// add reports whether the value was stored.
func (l *lru[K, V]) add(key K, value V, size int64) bool {
	if old, ok := l.items[key]; ok {
		l.remove(old)
	}
	if size > l.maxBytes {
		l.skipped++
		return false
	}
	e := &lruEntry[K, V]{key: key, value: value, size: size}
	l.items[key] = e
	l.bytes += size
	e.prev, e.next = &l.root, l.root.next
	e.prev.next, e.next.prev = e, e
	for l.bytes > l.maxBytes {
		l.remove(l.root.prev)
		l.evictions++
	}
	return true
}

// remove unlinks e and forgets it.
func (l *lru[K, V]) remove(e *lruEntry[K, V]) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
	delete(l.items, e.key)
	l.bytes -= e.size
}

func (l *lru[K, V]) moveToFront(e *lruEntry[K, V]) {
	if l.root.next == e {
		return
	}
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = &l.root, l.root.next
	e.prev.next, e.next.prev = e, e
}

// keys returns the keys from most to least recently used, for tests.
func (l *lru[K, V]) keys() []K {
	keys := make([]K, 0, len(l.items))
	for e := l.root.next; e != &l.root; e = e.next {
		keys = append(keys, e.key)
	}
	return keys
}

func (l *lru[K, V]) stats() Stats {
	return Stats{Items: len(l.items), Bytes: l.bytes, MaxBytes: l.maxBytes, Evictions: l.evictions, SkippedItems: l.skipped}
}
