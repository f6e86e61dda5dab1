package cache

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// metrics are the cinder_cache_* series of one cache, told apart by the
// label name. Byte and object caches share the names and help texts, which
// Prometheus requires of series with the same name.
type metrics struct {
	requests prometheus.Counter
	hits     prometheus.Counter
	misses   prometheus.Counter
	stored   prometheus.Counter
}

func newMetrics(f promauto.Factory) metrics {
	return metrics{
		requests: f.NewCounter(prometheus.CounterOpts{
			Name: "cinder_cache_requests_total",
			Help: "Keys looked up in the cache.",
		}),
		hits: f.NewCounter(prometheus.CounterOpts{
			Name: "cinder_cache_hits_total",
			Help: "Keys found in the cache.",
		}),
		misses: f.NewCounter(prometheus.CounterOpts{
			Name: "cinder_cache_misses_total",
			Help: "Keys not found in the cache.",
		}),
		stored: f.NewCounter(prometheus.CounterOpts{
			Name: "cinder_cache_stored_items_total",
			Help: "Items handed to the cache to store; a cache may drop them.",
		}),
	}
}

// registerStats exports the contents of a cache that keeps Stats.
func registerStats(f promauto.Factory, c any) {
	s, ok := c.(interface{ Stats() Stats })
	if !ok {
		return
	}
	f.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "cinder_cache_items",
		Help: "Entries held by an in-process cache.",
	}, func() float64 { return float64(s.Stats().Items) })
	f.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "cinder_cache_size_bytes",
		Help: "Bytes held by an in-process cache, as counted against its bound.",
	}, func() float64 { return float64(s.Stats().Bytes) })
	f.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "cinder_cache_max_size_bytes",
		Help: "The bound on cinder_cache_size_bytes.",
	}, func() float64 { return float64(s.Stats().MaxBytes) })
	f.NewCounterFunc(prometheus.CounterOpts{
		Name: "cinder_cache_evictions_total",
		Help: "Entries an in-process cache dropped to make room or because they expired.",
	}, func() float64 { return float64(s.Stats().Evictions) })
	f.NewCounterFunc(prometheus.CounterOpts{
		Name: "cinder_cache_skipped_items_total",
		Help: "Items an in-process cache did not store because they alone exceed its bound.",
	}, func() float64 { return float64(s.Stats().SkippedItems) })
}

// Instrumented is a Cache that counts the requests, hits, misses and bytes
// of the Cache it wraps and times its calls.
type Instrumented struct {
	next Cache
	metrics
	fetchedBytes prometheus.Counter
	storedBytes  prometheus.Counter
	getDuration  prometheus.Observer
	setDuration  prometheus.Observer
}

// Instrument wraps c with metrics registered on reg (which may be nil)
// under the label name=c.Name(). Registering two caches with one name on
// one registry panics, as duplicate metrics do.
func Instrument(c Cache, reg prometheus.Registerer) *Instrumented {
	f := promauto.With(prometheus.WrapRegistererWith(prometheus.Labels{"name": c.Name()}, reg))
	if reg == nil {
		f = promauto.With(nil)
	}
	duration := f.NewHistogramVec(prometheus.HistogramOpts{
		Name:                        "cinder_cache_operation_duration_seconds",
		Help:                        "Time spent in cache operations; Set of a remote cache only queues the writes.",
		Buckets:                     []float64{.00001, .0001, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		NativeHistogramBucketFactor: 1.1,
	}, []string{"operation"})
	registerStats(f, c)
	return &Instrumented{
		next:    c,
		metrics: newMetrics(f),
		fetchedBytes: f.NewCounter(prometheus.CounterOpts{
			Name: "cinder_cache_fetched_bytes_total",
			Help: "Bytes of the values returned by cache hits.",
		}),
		storedBytes: f.NewCounter(prometheus.CounterOpts{
			Name: "cinder_cache_stored_bytes_total",
			Help: "Bytes of the values handed to the cache to store.",
		}),
		getDuration: duration.WithLabelValues("get"),
		setDuration: duration.WithLabelValues("set"),
	}
}

// Get calls the wrapped cache and counts the result.
func (c *Instrumented) Get(ctx context.Context, keys []string) map[string][]byte {
	start := time.Now()
	hits := c.next.Get(ctx, keys)
	c.getDuration.Observe(time.Since(start).Seconds())
	var n int
	for _, v := range hits {
		n += len(v)
	}
	c.requests.Add(float64(len(keys)))
	c.hits.Add(float64(len(hits)))
	c.misses.Add(float64(len(keys) - len(hits)))
	c.fetchedBytes.Add(float64(n))
	return hits
}

// Set counts the items and calls the wrapped cache.
func (c *Instrumented) Set(ctx context.Context, items map[string][]byte, ttl time.Duration) {
	var n int
	for k, v := range items {
		n += len(k) + len(v)
	}
	c.stored.Add(float64(len(items)))
	c.storedBytes.Add(float64(n))
	start := time.Now()
	c.next.Set(ctx, items, ttl)
	c.setDuration.Observe(time.Since(start).Seconds())
}

// Name returns the wrapped cache's name.
func (c *Instrumented) Name() string { return c.next.Name() }

// Close closes the wrapped cache.
func (c *Instrumented) Close() error { return c.next.Close() }

// Unwrap returns the wrapped cache.
func (c *Instrumented) Unwrap() Cache { return c.next }

// InstrumentObjects wraps c with the cinder_cache_* request, hit, miss and
// stored-item counters under the label name, plus the size and eviction
// series when c has a Stats method (as ObjectLRU does). Calls are not
// timed: they take nanoseconds.
func InstrumentObjects[K comparable, V any](c ObjectCache[K, V], name string, reg prometheus.Registerer) ObjectCache[K, V] {
	f := promauto.With(prometheus.WrapRegistererWith(prometheus.Labels{"name": name}, reg))
	if reg == nil {
		f = promauto.With(nil)
	}
	registerStats(f, c)
	return &instrumentedObjects[K, V]{next: c, metrics: newMetrics(f)}
}

type instrumentedObjects[K comparable, V any] struct {
	next ObjectCache[K, V]
	metrics
}

func (c *instrumentedObjects[K, V]) Get(key K) (V, bool) {
	v, ok := c.next.Get(key)
	c.requests.Inc()
	if ok {
		c.hits.Inc()
	} else {
		c.misses.Inc()
	}
	return v, ok
}

func (c *instrumentedObjects[K, V]) Add(key K, value V) {
	c.stored.Inc()
	c.next.Add(key, value)
}
