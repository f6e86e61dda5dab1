package cache

import (
	"context"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestInstrumentCounts(t *testing.T) {
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	c := Instrument(newMemory("footers", 20, 1), reg)
	c.Set(ctx, map[string][]byte{"a": []byte("123456789")}, 0) // 10 bytes
	c.Set(ctx, map[string][]byte{"b": []byte("1234")}, 0)      // 5 bytes
	c.Set(ctx, map[string][]byte{"c": []byte("123456789")}, 0) // 10: evicts a
	c.Get(ctx, []string{"a", "b", "c", "d"})

	want := `
# HELP cinder_cache_evictions_total Entries an in-process cache dropped to make room or because they expired.
# TYPE cinder_cache_evictions_total counter
cinder_cache_evictions_total{name="footers"} 1
# HELP cinder_cache_fetched_bytes_total Bytes of the values returned by cache hits.
# TYPE cinder_cache_fetched_bytes_total counter
cinder_cache_fetched_bytes_total{name="footers"} 13
# HELP cinder_cache_hits_total Keys found in the cache.
# TYPE cinder_cache_hits_total counter
cinder_cache_hits_total{name="footers"} 2
# HELP cinder_cache_items Entries held by an in-process cache.
# TYPE cinder_cache_items gauge
cinder_cache_items{name="footers"} 2
# HELP cinder_cache_max_size_bytes The bound on cinder_cache_size_bytes.
# TYPE cinder_cache_max_size_bytes gauge
cinder_cache_max_size_bytes{name="footers"} 20
# HELP cinder_cache_misses_total Keys not found in the cache.
# TYPE cinder_cache_misses_total counter
cinder_cache_misses_total{name="footers"} 2
# HELP cinder_cache_requests_total Keys looked up in the cache.
# TYPE cinder_cache_requests_total counter
cinder_cache_requests_total{name="footers"} 4
# HELP cinder_cache_size_bytes Bytes held by an in-process cache, as counted against its bound.
# TYPE cinder_cache_size_bytes gauge
cinder_cache_size_bytes{name="footers"} 15
# HELP cinder_cache_stored_bytes_total Bytes of the values handed to the cache to store.
# TYPE cinder_cache_stored_bytes_total counter
cinder_cache_stored_bytes_total{name="footers"} 25
# HELP cinder_cache_stored_items_total Items handed to the cache to store; a cache may drop them.
# TYPE cinder_cache_stored_items_total counter
cinder_cache_stored_items_total{name="footers"} 3
`
	names := []string{
		"cinder_cache_evictions_total", "cinder_cache_fetched_bytes_total", "cinder_cache_hits_total",
		"cinder_cache_items", "cinder_cache_max_size_bytes", "cinder_cache_misses_total",
		"cinder_cache_requests_total", "cinder_cache_size_bytes", "cinder_cache_stored_bytes_total",
		"cinder_cache_stored_items_total",
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(reg, "cinder_cache_operation_duration_seconds"); n != 2 {
		t.Errorf("%d duration series, want get and set", n)
	}
}

func TestInstrumentSeveralCachesOneRegistry(t *testing.T) {
	// Byte and object caches share metric names; only the label differs.
	reg := prometheus.NewRegistry()
	Instrument(NewMemory("footers", 1<<20), reg)
	Instrument(Noop{}, reg)
	objects := InstrumentObjects[uint64, *fakeObject](NewObjectLRU[uint64](100, fakeSize), "partitions", reg)
	objects.Add(1, &fakeObject{10})
	objects.Get(1)
	objects.Get(2)
	for name, want := range map[string]float64{
		`cinder_cache_requests_total{name="partitions"}`:     2,
		`cinder_cache_hits_total{name="partitions"}`:         1,
		`cinder_cache_misses_total{name="partitions"}`:       1,
		`cinder_cache_stored_items_total{name="partitions"}`: 1,
		`cinder_cache_size_bytes{name="partitions"}`:         10,
	} {
		if got := gathered(t, reg, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if n := testutil.CollectAndCount(reg, "cinder_cache_requests_total"); n != 3 {
		t.Errorf("%d request series, want one per cache", n)
	}
}

// gathered returns the value of the series written as name{name="x"}.
func gathered(t *testing.T, reg *prometheus.Registry, series string) float64 {
	t.Helper()
	metric, label, _ := strings.Cut(strings.TrimSuffix(series, `"}`), `{name="`)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != metric {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "name" && l.GetValue() == label {
					if m.Counter != nil {
						return m.Counter.GetValue()
					}
					return m.Gauge.GetValue()
				}
			}
		}
	}
	t.Fatalf("no series %s", series)
	return 0
}
