package querier

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"runtime"
	"sync"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	querierv1 "github.com/cinder-profiling/cinder/proto/querier/v1"
)

// TestConcurrentQueries runs merges, profiles and series at the same time
// over the same blocks, whose partitions, name trees and caches are shared,
// and checks every answer equals the one a query alone gets. Run with -race.
func TestConcurrentQueries(t *testing.T) {
	blocks := loadBlocks(t, "medium", DefaultTenant)
	svc := New(Config{MaxSeriesPoints: 1e6}, staticBlocks{DefaultTenant: blocks}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx := WithTenant(context.Background(), DefaultTenant)
	maxNodes := int64(256)
	queries := []func() (proto.Message, error){
		func() (proto.Message, error) {
			r, err := svc.SelectMergeStacktraces(ctx, connect.NewRequest(&querierv1.SelectMergeStacktracesRequest{
				ProfileTypeID: cpuType, LabelSelector: "{}", Start: mediumStart, End: mediumEnd, MaxNodes: &maxNodes}))
			return r.Msg, err
		},
		func() (proto.Message, error) {
			r, err := svc.SelectMergeStacktraces(ctx, connect.NewRequest(&querierv1.SelectMergeStacktracesRequest{
				ProfileTypeID: cpuType, LabelSelector: `{service_name="checkout"}`, Start: mediumStart, End: mediumEnd}))
			return r.Msg, err
		},
		func() (proto.Message, error) {
			r, err := svc.SelectMergeProfile(ctx, connect.NewRequest(&querierv1.SelectMergeProfileRequest{
				ProfileTypeID: cpuType, LabelSelector: `{service_name="ledger"}`, Start: mediumStart, End: mediumEnd}))
			if err != nil {
				return nil, err
			}
			prof, err := DecodeProfile(r.Msg)
			if err != nil {
				return nil, err
			}
			if len(prof.Sample) == 0 {
				return nil, errors.New("merged profile without samples")
			}
			// Sample order in a merged profile is not fixed; compare totals.
			var total int64
			for _, s := range prof.Sample {
				total += s.Value[0]
			}
			return &querierv1.FlameGraph{Total: total}, nil
		},
		func() (proto.Message, error) {
			r, err := svc.SelectSeries(ctx, connect.NewRequest(&querierv1.SelectSeriesRequest{
				ProfileTypeID: cpuType, LabelSelector: "{}", Start: mediumStart, End: mediumEnd, Step: 60, GroupBy: []string{"pod"}}))
			return r.Msg, err
		},
	}
	want := make([]proto.Message, len(queries))
	for i, q := range queries {
		m, err := q()
		if err != nil {
			t.Fatal(err)
		}
		want[i] = m
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range queries {
				q := (w + i) % len(queries)
				got, err := queries[q]()
				if err != nil {
					t.Error(err)
					return
				}
				if !proto.Equal(got, want[q]) {
					t.Errorf("query %d answered differently when run concurrently", q)
				}
			}
		})
	}
	wg.Wait()
}

// TestMergeDoesNotDependOnWorkers merges the medium blocks with one to four
// cores, which deal the blocks to different trees in different orders, and
// checks the flame graph and the tree bytes are the same every time.
func TestMergeDoesNotDependOnWorkers(t *testing.T) {
	blocks := loadBlocks(t, "medium", DefaultTenant)
	svc := New(Config{MaxSeriesPoints: 1e6}, staticBlocks{DefaultTenant: blocks}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx := WithTenant(context.Background(), DefaultTenant)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	var want []proto.Message
	for procs := 1; procs <= 4; procs++ {
		runtime.GOMAXPROCS(procs)
		var got []proto.Message
		for _, maxNodes := range []int64{0, 64, 1024} {
			for _, format := range []querierv1.ProfileFormat{querierv1.ProfileFormat_PROFILE_FORMAT_FLAMEGRAPH, querierv1.ProfileFormat_PROFILE_FORMAT_TREE} {
				req := &querierv1.SelectMergeStacktracesRequest{
					ProfileTypeID: cpuType, LabelSelector: "{}", Start: mediumStart, End: mediumEnd, Format: format,
				}
				if maxNodes > 0 {
					req.MaxNodes = &maxNodes
				}
				r, err := svc.SelectMergeStacktraces(ctx, connect.NewRequest(req))
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, r.Msg)
			}
		}
		if want == nil {
			want = got
			continue
		}
		for i := range got {
			if !proto.Equal(got[i], want[i]) {
				t.Errorf("%d cores: answer %d differs from one core's", procs, i)
			}
		}
	}
}
