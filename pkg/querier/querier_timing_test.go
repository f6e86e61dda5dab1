package querier

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"connectrpc.com/connect"

	querierv1 "github.com/cinder-profiling/cinder/proto/querier/v1"
	typesv1 "github.com/cinder-profiling/cinder/proto/types/v1"
)

// The medium dataset: 3 hourly blocks, 153 series, ~2.1M samples.
const (
	mediumStart = 1709251200000
	mediumEnd   = 1709262000000
	cpuType     = "process_cpu:cpu:nanoseconds:cpu:nanoseconds"
)

func benchService(b *testing.B) (*Service, context.Context) {
	blocks := loadBlocks(b, "medium", DefaultTenant)
	svc := New(Config{MaxSeriesPoints: 1e6}, staticBlocks{DefaultTenant: blocks}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	return svc, WithTenant(context.Background(), DefaultTenant)
}

func BenchmarkSelectMergeStacktraces(b *testing.B) {
	svc, ctx := benchService(b)
	for _, bc := range []struct{ name, selector string }{
		{"all_cpu", "{}"},
		{"one_service", `{service_name="checkout"}`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := connect.NewRequest(&querierv1.SelectMergeStacktracesRequest{
				ProfileTypeID: cpuType, LabelSelector: bc.selector, Start: mediumStart, End: mediumEnd,
			})
			b.ReportAllocs()
			for b.Loop() {
				if _, err := svc.SelectMergeStacktraces(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkSelectMergeProfile(b *testing.B) {
	svc, ctx := benchService(b)
	req := connect.NewRequest(&querierv1.SelectMergeProfileRequest{
		ProfileTypeID: cpuType, LabelSelector: "{}", Start: mediumStart, End: mediumEnd,
	})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := svc.SelectMergeProfile(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSelectSeries(b *testing.B) {
	svc, ctx := benchService(b)
	req := connect.NewRequest(&querierv1.SelectSeriesRequest{
		ProfileTypeID: cpuType, LabelSelector: "{}", Start: mediumStart, End: mediumEnd, Step: 15, GroupBy: []string{"pod"},
	})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := svc.SelectSeries(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLabelValues(b *testing.B) {
	svc, ctx := benchService(b)
	req := connect.NewRequest(&typesv1.LabelValuesRequest{Name: "pod", Matchers: []string{`{service_name="checkout"}`}, Start: mediumStart, End: mediumEnd})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := svc.LabelValues(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}
