package querier

import (
	"context"
	"errors"
	"slices"

	"connectrpc.com/connect"
	"golang.org/x/sync/errgroup"

	"github.com/cinder-profiling/cinder/pkg/blockreader"
	"github.com/cinder-profiling/cinder/pkg/bucket"
	"github.com/cinder-profiling/cinder/pkg/flamegraph"
	googlev1 "github.com/cinder-profiling/cinder/proto/google/v1"
	querierv1 "github.com/cinder-profiling/cinder/proto/querier/v1"
)

var errDotFormat = errors.New("the DOT format is not supported; ask for PROFILE_FORMAT_FLAMEGRAPH or PROFILE_FORMAT_TREE")

// SelectMergeStacktraces merges the selected profiles' stacks into a flame
// graph, or into Pyroscope's tree encoding with PROFILE_FORMAT_TREE.
func (s *Service) SelectMergeStacktraces(ctx context.Context, req *connect.Request[querierv1.SelectMergeStacktracesRequest]) (*connect.Response[querierv1.SelectMergeStacktracesResponse], error) {
	m := req.Msg
	tree, maxNodes, err := s.mergeRequestTree(ctx, m)
	if err != nil {
		return nil, err
	}
	resp := &querierv1.SelectMergeStacktracesResponse{}
	if m.Format == querierv1.ProfileFormat_PROFILE_FORMAT_TREE {
		resp.Tree = tree.MarshalTree(maxNodes)
	} else {
		resp.Flamegraph = tree.FlameGraph(maxNodes)
	}
	return connect.NewResponse(resp), nil
}

// Diff compares the merged trees of two queries.
func (s *Service) Diff(ctx context.Context, req *connect.Request[querierv1.DiffRequest]) (*connect.Response[querierv1.DiffResponse], error) {
	left, right := req.Msg.Left, req.Msg.Right
	if left == nil {
		left = &querierv1.SelectMergeStacktracesRequest{}
	}
	if right == nil {
		right = &querierv1.SelectMergeStacktracesRequest{}
	}
	maxNodes, err := flamegraph.ResolveMaxNodes(max(left.GetMaxNodes(), right.GetMaxNodes()))
	if err != nil {
		return nil, err
	}
	var trees [2]*flamegraph.Tree
	g, gctx := errgroup.WithContext(ctx)
	for i, side := range []*querierv1.SelectMergeStacktracesRequest{left, right} {
		g.Go(func() error {
			t, _, err := s.mergeRequestTree(gctx, side)
			trees[i] = t
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return connect.NewResponse(&querierv1.DiffResponse{Flamegraph: flamegraph.NewDiff(trees[0], trees[1], maxNodes)}), nil
}

// mergeRequestTree validates a SelectMergeStacktraces request and merges
// its profiles into one tree. stack_trace_selector is not applied to flame
// graphs, as in Pyroscope; clients use SelectMergeProfile for call sites.
func (s *Service) mergeRequestTree(ctx context.Context, m *querierv1.SelectMergeStacktracesRequest) (*flamegraph.Tree, int64, error) {
	tenant, err := s.tenant(ctx)
	if err != nil {
		return nil, 0, err
	}
	maxNodes, err := flamegraph.ResolveMaxNodes(m.GetMaxNodes())
	if err != nil {
		return nil, 0, err
	}
	q, err := s.parseSelectQuery(m.ProfileTypeID, m.LabelSelector, m.Start, m.End, m.ProfileIdSelector)
	if err != nil {
		return nil, 0, err
	}
	if m.Format == querierv1.ProfileFormat_PROFILE_FORMAT_DOT {
		return nil, 0, connect.NewError(connect.CodeUnimplemented, errDotFormat)
	}
	tree, err := s.mergeTree(ctx, tenant, q, maxNodes)
	return tree, maxNodes, err
}

// mergeTree sums the stacks of every profile q selects into one tree.
func (s *Service) mergeTree(ctx context.Context, tenant string, q selectQuery, maxNodes int64) (*flamegraph.Tree, error) {
	tree := flamegraph.NewTree()
	values, err := s.collectStackValues(ctx, tenant, q)
	if err != nil {
		return nil, err
	}
	// Each block's stacks become a tree on their own core; the trees are
	// then merged.
	trees := make([]*flamegraph.Tree, len(values))
	g, _ := errgroup.WithContext(ctx)
	g.SetLimit(max(1, s.parallelism()))
	for i, v := range values {
		if v == nil {
			continue
		}
		g.Go(func() error {
			t := flamegraph.NewTree()
			for _, pv := range v.sorted() {
				if err := t.AddPartition(pv.part, pv.self); err != nil {
					return wrapBlock(v.block, err)
				}
			}
			// Pyroscope's stores answer with trees truncated to the budget,
			// which the querier merges and truncates again; flame graphs
			// near the budget's edge only match Pyroscope's when built the
			// same way.
			truncated, err := flamegraph.UnmarshalTree(t.MarshalTree(maxNodes))
			if err != nil {
				return err
			}
			trees[i] = truncated
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for _, t := range trees {
		if t != nil {
			tree.Merge(t)
		}
	}
	return flamegraph.UnmarshalTree(tree.MarshalTree(maxNodes))
}

// collectStackValues sums the sample values of the profiles q selects per
// stack-trace node, one stackValues per block that had any.
func (s *Service) collectStackValues(ctx context.Context, tenant string, q selectQuery) ([]*stackValues, error) {
	if q.empty {
		return nil, nil
	}
	plan := planBlocks(s.blocks.Blocks(tenant, q.start, q.end))
	values := make([]*stackValues, len(plan.blocks))
	err := s.forEachProfile(ctx, plan, q, scanOptions{columns: blockreader.ColumnSamples | blockreader.ColumnPartition},
		func(i int, b *bucket.Block, _ *blockSeries) rowVisitor {
			values[i] = newStackValues(ctx, b)
			return func(row *blockreader.ProfileRow, _ int) error { return values[i].add(row) }
		})
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(values, func(v *stackValues) bool { return v == nil }), nil
}

// SelectMergeProfile merges the selected profiles into one pprof profile.
func (s *Service) SelectMergeProfile(ctx context.Context, req *connect.Request[querierv1.SelectMergeProfileRequest]) (*connect.Response[googlev1.Profile], error) {
	m := req.Msg
	tenant, err := s.tenant(ctx)
	if err != nil {
		return nil, err
	}
	// Unlike flame graphs, a merged profile is not truncated unless asked.
	var maxNodes int64
	if m.MaxNodes != nil && *m.MaxNodes != 0 {
		if maxNodes, err = flamegraph.ResolveMaxNodes(*m.MaxNodes); err != nil {
			return nil, err
		}
	}
	q, err := s.parseSelectQuery(m.ProfileTypeID, m.LabelSelector, m.Start, m.End, m.ProfileIdSelector)
	if err != nil {
		return nil, err
	}
	pt := q.profileType
	b := flamegraph.NewProfileBuilder(flamegraph.ProfileTypeInfo{
		Name: pt.Name, SampleType: pt.SampleType, SampleUnit: pt.SampleUnit, PeriodType: pt.PeriodType, PeriodUnit: pt.PeriodUnit,
	}, m.Start, m.End)
	if sts := m.GetStackTraceSelector(); sts != nil {
		if pgo := sts.GetGoPgo(); pgo != nil {
			b.SetGoPGO(&flamegraph.GoPGO{KeepLocations: pgo.KeepLocations, AggregateCallees: pgo.AggregateCallees})
		} else if len(sts.CallSite) > 0 {
			callSite := make([]string, len(sts.CallSite))
			for i, l := range sts.CallSite {
				callSite[i] = l.Name
			}
			b.SetCallSite(callSite)
		}
	}
	values, err := s.collectStackValues(ctx, tenant, q)
	if err != nil {
		return nil, err
	}
	for _, v := range values {
		for _, pv := range v.sorted() {
			if err := b.AddPartition(pv.part, pv.self); err != nil {
				return nil, wrapBlock(v.block, err)
			}
		}
	}
	return connect.NewResponse(b.Build(maxNodes)), nil
}
