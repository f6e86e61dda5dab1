package querier

import (
	"context"

	"connectrpc.com/connect"

	"github.com/cinder-profiling/cinder/pkg/flamegraph"
	querierv1 "github.com/cinder-profiling/cinder/proto/querier/v1"
)

// SelectMergeSpanProfile merges, like SelectMergeStacktraces, only the
// samples recorded in the given spans (trace-to-profile links). Blocks
// written without span IDs contribute nothing.
func (s *Service) SelectMergeSpanProfile(ctx context.Context, req *connect.Request[querierv1.SelectMergeSpanProfileRequest]) (*connect.Response[querierv1.SelectMergeSpanProfileResponse], error) {
	m := req.Msg
	tenant, err := s.tenant(ctx)
	if err != nil {
		return nil, err
	}
	maxNodes, err := flamegraph.ResolveMaxNodes(m.GetMaxNodes())
	if err != nil {
		return nil, err
	}
	q, err := s.parseSelectQuery(m.ProfileTypeID, m.LabelSelector, m.Start, m.End, nil)
	if err != nil {
		return nil, err
	}
	if m.Format == querierv1.ProfileFormat_PROFILE_FORMAT_DOT {
		return nil, connect.NewError(connect.CodeUnimplemented, errDotFormat)
	}
	if q.spanIDs, err = parseSpanIDs(m.SpanSelector); err != nil {
		return nil, err
	}
	if len(q.spanIDs) == 0 {
		// No span selects no sample.
		q.empty = true
	}
	tree, err := s.mergeTree(ctx, tenant, q, maxNodes)
	if err != nil {
		return nil, err
	}
	resp := &querierv1.SelectMergeSpanProfileResponse{}
	resp.Flamegraph, resp.Tree = layOut(tree, m.Format, m.GetMaxNodes())
	s.releaseTree(tree)
	return connect.NewResponse(resp), nil
}
