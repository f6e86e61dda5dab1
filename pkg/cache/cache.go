package cache

import (
	"context"
	"io"
	"time"
)

// Cache stores byte values under string keys. Implementations are safe for
// concurrent use and best-effort: Set may drop items (too large, backend
// down, evicted at once) and Get reports only hits, never errors, so a
// cache failure costs a read from object storage, never a failed query.
type Cache interface {
	// Get returns the values of the keys it holds. Keys it does not hold
	// are absent from the result, which may be nil. NOTE: callers must not
	// modify the returned slices; an in-process cache hands out the bytes
	// it stores.
	Get(ctx context.Context, keys []string) map[string][]byte

	// Set stores items for ttl; ttl <= 0 means until evicted. It may return
	// before the items are visible to Get (remote backends write
	// asynchronously) and it does not keep references to the slices in
	// items after it returns, so callers may reuse them.
	Set(ctx context.Context, items map[string][]byte, ttl time.Duration)

	// Name identifies the cache in metrics and logs.
	Name() string

	// Close releases connections and background goroutines. The cache
	// must not be used after Close.
	io.Closer
}

// Stats are what a bounded in-process cache knows about its own contents.
// Instrument exports them when the wrapped cache has a Stats method.
type Stats struct {
	Items        int    // entries held
	Bytes        int64  // bytes held, as counted by the cache's size function
	MaxBytes     int64  // the bound on Bytes
	Evictions    uint64 // entries dropped to make room or because they expired
	SkippedItems uint64 // items not stored because they alone exceed MaxBytes
}

// Noop is a Cache that holds nothing; it is what -cache.backend=none builds.
// Its zero value is ready to use.
type Noop struct{}

// Get returns no hits.
func (Noop) Get(context.Context, []string) map[string][]byte { return nil }

// Set drops the items.
func (Noop) Set(context.Context, map[string][]byte, time.Duration) {}

// Name returns "none".
func (Noop) Name() string { return BackendNone }

// Close does nothing.
func (Noop) Close() error { return nil }
