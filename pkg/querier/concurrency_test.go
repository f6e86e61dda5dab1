package querier

import (
	"context"
	"io"
	"log/slog"
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
			// Sample order in a merged profile is not fixed; compare totals.
			var total int64
			for _, s := range r.Msg.Sample {
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
