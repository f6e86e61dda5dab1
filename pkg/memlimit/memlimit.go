package memlimit

import (
	"flag"
	"fmt"
	"log/slog"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// Config sets the headroom: after every collection the limit becomes the
// live heap plus the larger of HeadroomPercent of it and MinHeadroomBytes,
// at least MinHeapBytes, plus the runtime's memory outside the heap.
type Config struct {
	HeadroomPercent  int   `yaml:"gc_headroom_percent"`
	MinHeadroomBytes int64 `yaml:"gc_min_headroom_bytes"`
	MinHeapBytes     int64 `yaml:"gc_min_heap_bytes"`
}

// RegisterFlags registers the -memory.* flags with their defaults.
func (c *Config) RegisterFlags(f *flag.FlagSet) {
	f.IntVar(&c.HeadroomPercent, "memory.gc-headroom-percent", 20,
		"Garbage the heap may gather between collections, as a percentage of the live heap (at least -memory.gc-min-headroom-bytes). Go's default is 100, which doubles the caches in resident memory. 0 leaves the collector to GOGC and GOMEMLIMIT, as it also is when either is set in the environment.")
	f.Int64Var(&c.MinHeadroomBytes, "memory.gc-min-headroom-bytes", 24<<20,
		"Least garbage the heap may gather between collections, in bytes, so that a small heap is not collected after every query.")
	f.Int64Var(&c.MinHeapBytes, "memory.gc-min-heap-bytes", 128<<20,
		"Heap, in bytes, that is not collected before it reaches this size, whatever the headroom: a heap growing from nothing as the first queries fill the caches is collected a few times, not at every step of its growth.")
}

// Validate rejects negative settings.
func (c *Config) Validate() error {
	if c.HeadroomPercent < 0 || c.MinHeadroomBytes < 0 {
		return fmt.Errorf("memory: gc headroom must not be negative (percent %d, bytes %d)", c.HeadroomPercent, c.MinHeadroomBytes)
	}
	if c.MinHeapBytes < 0 {
		return fmt.Errorf("memory: gc minimum heap must not be negative (%d bytes)", c.MinHeapBytes)
	}
	return nil
}

// Enabled reports whether the tuner should run: it is configured on, and
// neither GOGC nor GOMEMLIMIT is set in the environment (an operator who
// set them has chosen the collector's pacing already).
func (c *Config) Enabled() bool {
	return c.HeadroomPercent > 0 && os.Getenv("GOGC") == "" && os.Getenv("GOMEMLIMIT") == ""
}

// The runtime/metrics samples the tuner reads after every collection.
const (
	liveHeapMetric     = "/gc/heap/live:bytes"
	totalMemoryMetric  = "/memory/classes/total:bytes"
	heapReleasedMetric = "/memory/classes/heap/released:bytes"
	heapObjectsMetric  = "/memory/classes/heap/objects:bytes"
	heapUnusedMetric   = "/memory/classes/heap/unused:bytes"
	heapFreeMetric     = "/memory/classes/heap/free:bytes"
)

// Tuner sets the soft memory limit after every garbage collection, and
// turns GOGC's pacing off while it runs: the limit alone starts a
// collection. With GOGC's goal of twice the live heap as well, a heap
// growing from a few megabytes to hundreds (a first query decoding every
// partition it reads) was collected at every doubling: 13 collections
// instead of 8, and a quarter more of the collector's CPU, for no less
// memory at the peak. A small heap may grow by the minimum headroom before
// it is collected, and any heap to the minimum heap: the cold query of the
// bench bucket, growing the heap from 10 to 100 MB, was collected 5 times
// with 64 MiB of headroom, 11 with 32 and 16 with 24, the collector's CPU
// going from 30 to 65 and 125 ms. With the minimum heap, the headroom at
// the peak, where the heap is well above it, can be small.
//
// The limit set is exported by the Go collector of client_golang as
// go_gc_gomemlimit_bytes.
type Tuner struct {
	cfg    Config
	logger *slog.Logger

	mu       sync.Mutex
	stopped  bool
	previous int64 // the limit before Start, restored by Stop
	percent  int   // GOGC before Start, restored by Stop
	samples  []metrics.Sample
}

// Start sets the limit for the heap as it is now and keeps it up to date
// until Stop.
func Start(cfg Config, logger *slog.Logger) *Tuner {
	t := &Tuner{
		cfg:      cfg,
		logger:   logger,
		previous: debug.SetMemoryLimit(-1),
	}
	for _, name := range []string{liveHeapMetric, totalMemoryMetric, heapReleasedMetric, heapObjectsMetric, heapUnusedMetric, heapFreeMetric} {
		t.samples = append(t.samples, metrics.Sample{Name: name})
	}
	t.tune()
	t.percent = debug.SetGCPercent(-1)
	t.arm()
	logger.Info("garbage collector paced by live heap", "headroom_percent", cfg.HeadroomPercent, "min_headroom_bytes", cfg.MinHeadroomBytes, "min_heap_bytes", cfg.MinHeapBytes)
	return t
}

// Stop restores the limit and GOGC in force before Start. The tuner does not touch
// the limit after Stop returns.
func (t *Tuner) Stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stopped = true
	debug.SetMemoryLimit(t.previous)
	debug.SetGCPercent(t.percent)
}

// gcSentinel is allocated only to become garbage: its cleanup runs after
// the collection that finds it unreachable. The pointer keeps it out of the
// tiny allocator, whose blocks are freed together and late.
type gcSentinel struct {
	_ *byte
	_ [16]byte
}

// arm has tune called after the next garbage collection.
func (t *Tuner) arm() {
	runtime.AddCleanup(new(gcSentinel), func(t *Tuner) {
		if t.tune() {
			t.arm()
		}
	}, t)
}

// tune sets the limit from the heap as the last collection left it. It
// reports false once the tuner is stopped.
func (t *Tuner) tune() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return false
	}
	metrics.Read(t.samples)
	v := func(i int) int64 {
		if t.samples[i].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return int64(min(t.samples[i].Value.Uint64(), math.MaxInt64))
	}
	live, total, released, objects, unused, free := v(0), v(1), v(2), v(3), v(4), v(5)
	// The limit covers all the runtime's memory, not only the heap:
	// goroutine stacks, GC metadata and the like are added as they are.
	outsideHeap := max(total-released-objects-unused-free, 0)
	limit := Limit(t.cfg, live) + outsideHeap
	debug.SetMemoryLimit(limit)
	return true
}

// Limit is the heap a collection should start at when live bytes survived
// the last one.
func Limit(cfg Config, live int64) int64 {
	pct := int64(cfg.HeadroomPercent)
	// Divided first so that a large heap cannot overflow.
	headroom := max(live/100*pct+live%100*pct/100, cfg.MinHeadroomBytes)
	if headroom > math.MaxInt64-live {
		return math.MaxInt64
	}
	return max(live+headroom, cfg.MinHeapBytes)
}
