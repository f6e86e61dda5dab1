package querier

import (
	"context"
	"math"
	"path"
	"strings"

	"connectrpc.com/connect"

	"github.com/cinder-profiling/cinder/pkg/blockreader"
	querierv1 "github.com/cinder-profiling/cinder/proto/querier/v1"
	typesv1 "github.com/cinder-profiling/cinder/proto/types/v1"
)

// GetProfileStats says whether the tenant has any data and the time of its
// oldest and newest profile. Without data the times are Pyroscope's
// sentinels, int64 max and min.
func (s *Service) GetProfileStats(ctx context.Context, _ *connect.Request[typesv1.GetProfileStatsRequest]) (*connect.Response[typesv1.GetProfileStatsResponse], error) {
	tenant, err := s.tenant(ctx)
	if err != nil {
		return nil, err
	}
	resp := &typesv1.GetProfileStatsResponse{OldestProfileTime: math.MaxInt64, NewestProfileTime: math.MinInt64}
	for _, b := range s.blocks.Blocks(tenant, math.MinInt64, math.MaxInt64) {
		resp.DataIngested = true
		resp.OldestProfileTime = min(resp.OldestProfileTime, int64(b.Meta.MinTime))
		resp.NewestProfileTime = max(resp.NewestProfileTime, int64(b.Meta.MaxTime))
	}
	return connect.NewResponse(resp), nil
}

// AnalyzeQuery estimates what a query would read, from meta.json and the
// index alone. Everything Cinder reads is in the bucket, so it is reported
// as long-term storage; the short-term scope (ingesters) stays empty.
func (s *Service) AnalyzeQuery(ctx context.Context, req *connect.Request[querierv1.AnalyzeQueryRequest]) (*connect.Response[querierv1.AnalyzeQueryResponse], error) {
	m := req.Msg
	tenant, err := s.tenant(ctx)
	if err != nil {
		return nil, err
	}
	if m.Start == 0 || m.End == 0 {
		return connect.NewResponse(&querierv1.AnalyzeQueryResponse{}), nil
	}
	lq, err := parseLegacyQuery(m.Query)
	if err != nil {
		return nil, err
	}
	q, err := s.parseSelectQuery(lq.profileType.ID, lq.labelSelector, m.Start, m.End, nil)
	if err != nil {
		return nil, err
	}
	long := &querierv1.QueryScope{ComponentType: "Long term storage"}
	impact := &querierv1.QueryImpact{}
	if !q.empty {
		plan := planBlocks(s.blocks.Blocks(tenant, q.start, q.end))
		impact.DeduplicationNeeded = plan.needsDedup()
		distinct := map[uint64]struct{}{}
		for _, b := range plan.blocks {
			long.BlockCount++
			long.SeriesCount += b.Meta.Stats.NumSeries
			long.ProfileCount += b.Meta.Stats.NumProfiles
			long.SampleCount += b.Meta.Stats.NumSamples
			for _, f := range b.Meta.Files {
				switch {
				case f.RelPath == blockreader.IndexFilename:
					long.IndexBytes += f.SizeBytes
				case strings.HasPrefix(path.Base(f.RelPath), "profiles"):
					long.ProfileBytes += f.SizeBytes
				default:
					long.SymbolBytes += f.SizeBytes
				}
			}
			series, err := selectBlockSeries(b, q.matchers, false)
			if err != nil {
				return nil, wrapBlock(b, err)
			}
			for _, fp := range series.fingerprints {
				distinct[fp] = struct{}{}
			}
		}
		impact.TotalQueriedSeries = uint64(len(distinct))
		if long.BlockCount > 0 {
			long.ComponentCount = 1
		}
		impact.TotalBytesInTimeRange = long.IndexBytes + long.ProfileBytes + long.SymbolBytes
	}
	return connect.NewResponse(&querierv1.AnalyzeQueryResponse{
		QueryScopes: []*querierv1.QueryScope{{ComponentType: "Short term storage"}, long},
		QueryImpact: impact,
	}), nil
}
