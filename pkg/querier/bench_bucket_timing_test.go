package querier

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/oklog/ulid/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/thanos-io/objstore/providers/filesystem"

	"github.com/cinder-profiling/cinder/pkg/bucket"
	"github.com/cinder-profiling/cinder/pkg/cache"
	"github.com/cinder-profiling/cinder/pkg/symdb"
	querierv1 "github.com/cinder-profiling/cinder/proto/querier/v1"
	typesv1 "github.com/cinder-profiling/cinder/proto/types/v1"
)

// benchBucket opens the bucket of `make bench-data` (CINDER_BENCH_BUCKET,
// or $TMPDIR/cinder-bench) through the real bucket sync, or skips.
func benchBucket(b *testing.B) (*Service, context.Context, int64, int64) {
	dir := os.Getenv("CINDER_BENCH_BUCKET")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "cinder-bench")
	}
	if _, err := os.Stat(dir); err != nil {
		b.Skipf("no benchmark bucket at %s: run make bench-data", dir)
	}
	bkt, err := filesystem.NewBucket(dir)
	if err != nil {
		b.Fatal(err)
	}
	// Wired as cmd/querier wires a filesystem bucket with its default
	// cache flags.
	var cacheCfg cache.Config
	cacheCfg.RegisterFlags(flag.NewFlagSet("defaults", flag.PanicOnError))
	lru := cache.NewObjectLRU[cache.ScopedKey[ulid.ULID, uint64]](cacheCfg.Partitions.MaxSizeBytes, (*symdb.Partition).SizeBytes)
	storage := bucket.Config{Backend: bucket.BackendFilesystem}
	storage.Filesystem.Directory = dir
	var syncCfg bucket.SyncConfig
	opts := bucket.ServingOptions(storage, &syncCfg, nil, lru, cacheCfg.Backend == cache.BackendMemory)
	syncer := bucket.NewSyncer(bkt, syncCfg, nil, prometheus.NewRegistry(), opts...)
	if err := syncer.SyncOnce(context.Background()); err != nil {
		b.Fatal(err)
	}
	blocks := syncer.Blocks(DefaultTenant, math.MinInt64, math.MaxInt64)
	if len(blocks) == 0 {
		b.Skipf("no blocks in %s", dir)
	}
	start, end := int64(blocks[0].Meta.MinTime), int64(blocks[len(blocks)-1].Meta.MaxTime)
	svc := New(Config{MaxSeriesPoints: 1e6}, syncer, slog.New(slog.NewTextHandler(io.Discard, nil)))
	return svc, WithTenant(context.Background(), DefaultTenant), start, end
}

func BenchmarkBenchBucket(b *testing.B) {
	svc, ctx, start, end := benchBucket(b)
	merge := func(profileType, selector string) func(b *testing.B) {
		return func(b *testing.B) {
			req := connect.NewRequest(&querierv1.SelectMergeStacktracesRequest{ProfileTypeID: profileType, LabelSelector: selector, Start: start, End: end})
			loop(b, func() error { _, err := svc.SelectMergeStacktraces(ctx, req); return err })
		}
	}
	b.Run("SelectMergeStacktraces/all_cpu", merge(cpuType, "{}"))
	b.Run("SelectMergeStacktraces/one_service", merge(cpuType, `{service_name="checkout"}`))
	b.Run("SelectMergeStacktraces/alloc_objects", merge("memory:alloc_objects:count:space:bytes", "{}"))
	b.Run("SelectSeries/by_pod_step_15s", func(b *testing.B) {
		req := connect.NewRequest(&querierv1.SelectSeriesRequest{ProfileTypeID: cpuType, LabelSelector: "{}", Start: start, End: end, Step: 15, GroupBy: []string{"pod"}})
		loop(b, func() error { _, err := svc.SelectSeries(ctx, req); return err })
	})
	b.Run("SelectMergeProfile/all_cpu", func(b *testing.B) {
		req := connect.NewRequest(&querierv1.SelectMergeProfileRequest{ProfileTypeID: cpuType, LabelSelector: "{}", Start: start, End: end})
		loop(b, func() error { _, err := svc.SelectMergeProfile(ctx, req); return err })
	})
	b.Run("LabelValues/pod", func(b *testing.B) {
		req := connect.NewRequest(&typesv1.LabelValuesRequest{Name: "pod", Matchers: []string{`{service_name="checkout"}`}, Start: start, End: end})
		loop(b, func() error { _, err := svc.LabelValues(ctx, req); return err })
	})
}

// BenchmarkBenchBucketScaling merges all CPU stacks over 15 minutes, 1 hour
// and 4 hours of the bench bucket: 1x, 4x and 16x the rows and samples.
// Cost should grow no faster than the data touched.
func BenchmarkBenchBucketScaling(b *testing.B) {
	svc, ctx, _, end := benchBucket(b)
	for _, sc := range []struct {
		name   string
		rangeM int64
	}{{"1x_15m", 15}, {"4x_1h", 60}, {"16x_4h", 240}} {
		b.Run(sc.name, func(b *testing.B) {
			req := connect.NewRequest(&querierv1.SelectMergeStacktracesRequest{
				ProfileTypeID: cpuType, LabelSelector: "{}", Start: end - sc.rangeM*60_000 + 1, End: end,
			})
			loop(b, func() error { _, err := svc.SelectMergeStacktraces(ctx, req); return err })
		})
	}
}

// BenchmarkBenchBucketCold is the first all-CPU query of a service that
// has just synced the bench bucket: every partition is loaded, checked and
// indexed by name on the way. The target is within 3x the warm all_cpu of
// BenchmarkBenchBucket.
func BenchmarkBenchBucketCold(b *testing.B) {
	b.ReportAllocs()
	var cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		svc, ctx, start, end := benchBucket(b)
		req := connect.NewRequest(&querierv1.SelectMergeStacktracesRequest{ProfileTypeID: cpuType, LabelSelector: "{}", Start: start, End: end})
		before := cpuTime(b)
		b.StartTimer()
		if _, err := svc.SelectMergeStacktraces(ctx, req); err != nil {
			b.Fatal(err)
		}
		cpu += cpuTime(b) - before
	}
	b.ReportMetric(float64(cpu.Microseconds())/1e3/float64(b.N), "cpu-ms/op")
}

// loop runs query once untimed, so that the figures are warm ones as the
// targets are (the cold first query loads and indexes the partitions;
// BenchmarkServerBenchBucket in integration/ reports it), then b.N times.
// Besides wall time it reports the process CPU time per query, which
// varies less than wall time on a shared machine.
func loop(b *testing.B, query func() error) {
	b.Helper()
	if err := query(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	before := cpuTime(b)
	for b.Loop() {
		if err := query(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((cpuTime(b)-before).Microseconds())/1e3/float64(b.N), "cpu-ms/op")
}

// cpuTime returns the user and system CPU time of the process so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
