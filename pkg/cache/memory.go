package cache

import (
	"context"
	"hash/maphash"
	"sync"
	"time"
)

// minShardBytes is the smallest budget a shard of a Memory cache gets: an
// item larger than its shard's budget cannot be stored, and merged results
// of a block can be megabytes.
const minShardBytes = 32 << 20

// maxShards bounds the shard count of a Memory cache.
const maxShards = 16

// Memory is an in-process Cache bounded by the total size of its keys and
// values, evicting the least recently used entries first. It is split into
// shards, each an LRU with its own lock and an equal part of the budget, so
// that concurrent queries do not serialise on one mutex.
//
// NOTE: sizes count len(key)+len(value) only, not the per-entry overhead
// of the map and list (about 100 bytes), which matters only for tiny items.
type Memory struct {
	name   string
	seed   maphash.Seed
	shards []memoryShard
	now    func() time.Time // replaced in tests
}

type memoryShard struct {
	mu  sync.Mutex
	lru lru[string, memoryEntry]
	_   [64]byte // keep shards' mutexes on separate cache lines
}

type memoryEntry struct {
	value   []byte
	expires int64 // Unix nanoseconds; 0 means never
}

// NewMemory returns a Memory cache holding at most maxBytes of keys and
// values. A maxBytes <= 0 holds nothing.
func NewMemory(name string, maxBytes int64) *Memory {
	n := 1
	for n < maxShards && maxBytes/int64(2*n) >= minShardBytes {
		n *= 2
	}
	return newMemory(name, maxBytes, n)
}

func newMemory(name string, maxBytes int64, shards int) *Memory {
	m := &Memory{name: name, seed: maphash.MakeSeed(), shards: make([]memoryShard, shards), now: time.Now}
	for i := range m.shards {
		// The first shards take the remainder so the budgets sum to maxBytes.
		budget := maxBytes / int64(shards)
		if int64(i) < maxBytes%int64(shards) {
			budget++
		}
		m.shards[i].lru.init(budget)
	}
	return m
}

func (m *Memory) shard(key string) *memoryShard {
	if len(m.shards) == 1 {
		return &m.shards[0]
	}
	return &m.shards[maphash.String(m.seed, key)&uint64(len(m.shards)-1)]
}

// Get returns the values of the unexpired keys it holds.
func (m *Memory) Get(_ context.Context, keys []string) map[string][]byte {
	var hits map[string][]byte
	now := m.now().UnixNano()
	for _, key := range keys {
		s := m.shard(key)
		s.mu.Lock()
		e, ok := s.lru.get(key)
		if ok && e.value.expires != 0 && e.value.expires <= now {
			s.lru.remove(e)
			s.lru.evictions++
			ok = false
		}
		var value []byte
		if ok {
			value = e.value.value
		}
		s.mu.Unlock()
		if ok {
			if hits == nil {
				hits = make(map[string][]byte, len(keys))
			}
			hits[key] = value
		}
	}
	return hits
}

// Set copies the items into the cache. Items larger than a shard's budget
// are skipped.
func (m *Memory) Set(_ context.Context, items map[string][]byte, ttl time.Duration) {
	var expires int64
	if ttl > 0 {
		expires = m.now().Add(ttl).UnixNano()
	}
	for key, value := range items {
		e := memoryEntry{value: append([]byte(nil), value...), expires: expires}
		s := m.shard(key)
		s.mu.Lock()
		s.lru.add(key, e, int64(len(key)+len(value)))
		s.mu.Unlock()
	}
}

// Name returns the name given to NewMemory.
func (m *Memory) Name() string { return m.name }

// Close does nothing; a closed Memory cache still works.
func (m *Memory) Close() error { return nil }

// Stats sums the shards' statistics.
func (m *Memory) Stats() Stats {
	var total Stats
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		st := s.lru.stats()
		s.mu.Unlock()
		total.Items += st.Items
		total.Bytes += st.Bytes
		total.MaxBytes += st.MaxBytes
		total.Evictions += st.Evictions
		total.SkippedItems += st.SkippedItems
	}
	return total
}
