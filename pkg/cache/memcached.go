package cache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"time"

	dskitcache "github.com/grafana/dskit/cache"
	"github.com/prometheus/client_golang/prometheus"
)

// Memcached limits on keys and expiry times.
const (
	memcachedMaxKeyLength = 250
	// memcachedMaxTTL is the longest relative expiry memcached accepts;
	// larger values are read as Unix timestamps.
	memcachedMaxTTL = 30 * 24 * time.Hour
	// hashedKeyPrefix marks keys replaced by their SHA-256 because
	// memcached would refuse them.
	hashedKeyPrefix = "sha256:"
)

// Memcached is a Cache kept in memcached servers through the dskit client,
// which spreads keys over the servers with a jump hash, batches Gets, and
// writes in the background. Values larger than the configured max item size
// are skipped, not stored and not reported as errors.
type Memcached struct {
	client *dskitcache.MemcachedClient
}

// NewMemcached connects to the servers in cfg. reg receives the dskit
// client's own metrics (cache_* with label name); it may be nil.
func NewMemcached(name string, cfg dskitcache.MemcachedClientConfig, logger *slog.Logger, reg prometheus.Registerer) (*Memcached, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if reg == nil {
		// dskit registers its metrics unconditionally.
		reg = prometheus.NewRegistry()
	}
	client, err := dskitcache.NewMemcachedClientWithConfig(kitLogger{logger.With("cache", name)}, name, cfg, reg)
	if err != nil {
		return nil, fmt.Errorf("cache %s: memcached client: %w", name, err)
	}
	return &Memcached{client: client}, nil
}

// Get fetches the keys from memcached. Server and network errors are logged
// and counted by the client and read as misses.
func (m *Memcached) Get(ctx context.Context, keys []string) map[string][]byte {
	if len(keys) == 0 {
		return nil
	}
	serverKeys := make([]string, len(keys))
	var original map[string]string // server key -> caller's key, for hashed keys only
	for i, key := range keys {
		serverKeys[i] = memcachedKey(key)
		if serverKeys[i] != key {
			if original == nil {
				original = make(map[string]string)
			}
			original[serverKeys[i]] = key
		}
	}
	hits := m.client.GetMulti(ctx, serverKeys)
	if original == nil || len(hits) == 0 {
		return hits
	}
	out := make(map[string][]byte, len(hits))
	for key, value := range hits {
		if k, ok := original[key]; ok {
			key = k
		}
		out[key] = value
	}
	return out
}

// Set queues the items for writing in the background and returns. Items
// are dropped when the queue is full or larger than the max item size.
func (m *Memcached) Set(_ context.Context, items map[string][]byte, ttl time.Duration) {
	ttl = memcachedTTL(ttl)
	for key, value := range items {
		// The queue holds value until it is written, and callers may reuse it.
		m.client.SetAsync(memcachedKey(key), append([]byte(nil), value...), ttl)
	}
}

// Name returns the name given to NewMemcached.
func (m *Memcached) Name() string { return m.client.Name() }

// Close stops the client; queued writes that have not started are dropped.
func (m *Memcached) Close() error {
	m.client.Stop()
	return nil
}

// memcachedKey returns key if memcached accepts it as it is, else a digest
// of it: memcached keys are at most 250 bytes without spaces or control
// characters.
func memcachedKey(key string) string {
	valid := len(key) <= memcachedMaxKeyLength && key != ""
	for i := 0; valid && i < len(key); i++ {
		valid = key[i] > ' ' && key[i] != 0x7f
	}
	if valid {
		return key
	}
	sum := sha256.Sum256([]byte(key))
	return hashedKeyPrefix + hex.EncodeToString(sum[:])
}

// memcachedTTL maps a Cache ttl onto one the dskit client accepts: whole
// seconds (it rejects non-zero durations under a second) up to 30 days,
// with 0 meaning no expiry.
func memcachedTTL(ttl time.Duration) time.Duration {
	switch {
	case ttl <= 0:
		return 0
	case ttl > memcachedMaxTTL:
		return memcachedMaxTTL
	case ttl < time.Second:
		return time.Second
	}
	return ttl.Round(time.Second)
}

// kitLogger passes the go-kit log lines of the dskit client to slog.
type kitLogger struct{ logger *slog.Logger }

func (l kitLogger) Log(keyvals ...any) error {
	level, msg := slog.LevelInfo, ""
	attrs := make([]any, 0, len(keyvals))
	for i := 0; i+1 < len(keyvals); i += 2 {
		key, value := fmt.Sprint(keyvals[i]), keyvals[i+1]
		switch key {
		case "level":
			switch fmt.Sprint(value) {
			case "debug":
				level = slog.LevelDebug
			case "warn":
				level = slog.LevelWarn
			case "error":
				level = slog.LevelError
			}
		case "msg":
			msg = fmt.Sprint(value)
		default:
			attrs = append(attrs, key, value)
		}
	}
	l.logger.Log(context.Background(), level, msg, attrs...)
	return nil
}
