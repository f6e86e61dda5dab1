package querier

import (
	"context"
	"errors"
	"math"
	"time"

	"connectrpc.com/connect"
	"golang.org/x/sync/errgroup"
	"google.golang.org/protobuf/proto"

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
	tree, err := s.mergeRequestTree(ctx, m)
	if err != nil {
		return nil, err
	}
	resp := &querierv1.SelectMergeStacktracesResponse{}
	resp.Flamegraph, resp.Tree = layOut(tree, m.Format, m.GetMaxNodes())
	s.releaseTree(tree)
	return connect.NewResponse(resp), nil
}

// layOut renders a merged tree as a flame graph, or as tree bytes with
// PROFILE_FORMAT_TREE. The tree is truncated with the resolved budget
// already; Pyroscope's frontend lays it out with the budget as sent (0 when
// unset: only "other" children are folded).
func layOut(tree *flamegraph.Tree, format querierv1.ProfileFormat, sentMaxNodes int64) (*querierv1.FlameGraph, []byte) {
	if format == querierv1.ProfileFormat_PROFILE_FORMAT_TREE {
		return nil, tree.MarshalTree(sentMaxNodes)
	}
	return tree.FlameGraph(sentMaxNodes), nil
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
		// Both sides are merged with the larger budget, as Pyroscope's
		// frontend sends it to both.
		sent := proto.Clone(side).(*querierv1.SelectMergeStacktracesRequest)
		sent.MaxNodes = &maxNodes
		g.Go(func() error {
			t, err := s.mergeRequestTree(gctx, sent)
			trees[i] = t
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	fg := flamegraph.NewDiff(trees[0], trees[1], maxNodes)
	s.releaseTree(trees[0])
	s.releaseTree(trees[1])
	return connect.NewResponse(&querierv1.DiffResponse{Flamegraph: fg}), nil
}

// mergeRequestTree validates a SelectMergeStacktraces request and merges
// its profiles into one tree, truncated as Pyroscope's stores and querier
// truncate it with the resolved node budget.
func (s *Service) mergeRequestTree(ctx context.Context, m *querierv1.SelectMergeStacktracesRequest) (*flamegraph.Tree, error) {
	tenant, err := s.tenant(ctx)
	if err != nil {
		return nil, err
	}
	maxNodes, err := flamegraph.ResolveMaxNodes(m.GetMaxNodes())
	if err != nil {
		return nil, err
	}
	q, err := s.parseSelectQuery(m.ProfileTypeID, m.LabelSelector, m.Start, m.End, m.ProfileIdSelector)
	if err != nil {
		return nil, err
	}
	if m.Format == querierv1.ProfileFormat_PROFILE_FORMAT_DOT {
		return nil, connect.NewError(connect.CodeUnimplemented, errDotFormat)
	}
	// Pyroscope's v1 frontend drops stack_trace_selector here; Cinder
	// honours the call site, as it does for SelectMergeProfile and
	// SelectSeries.
	if q.callSite, err = callSiteNames(m.GetStackTraceSelector()); err != nil {
		return nil, err
	}
	return s.mergeTree(ctx, tenant, q, maxNodes)
}

// mergeTree sums the stacks of every profile q selects into one tree.
func (s *Service) mergeTree(ctx context.Context, tenant string, q selectQuery, maxNodes int64) (*flamegraph.Tree, error) {
	// Pyroscope's frontend queries up to two sub-ranges and merges their
	// truncated trees; values near the budget's cut-off only match when
	// built the same way (api.md §5.4, §6.5.3).
	trees, err := s.mergeRanges(ctx, tenant, q, frontendSubRanges(q.start, q.end), maxNodes)
	if err != nil {
		return nil, err
	}
	return s.mergeInto(trees), nil
}

// mergeInto merges every tree into the first, which it returns, and lends
// the others to later queries.
func (s *Service) mergeInto(trees []*flamegraph.Tree) *flamegraph.Tree {
	for _, t := range trees[1:] {
		trees[0].Merge(t)
		s.releaseTree(t)
	}
	return trees[0]
}

// streamStackValues sums the sample values of the profiles q selects per
// stack-trace node, one stackValues per block that had any, and hands each
// to use as soon as the block and every block before it are read, so that
// the caller's work on the first blocks overlaps the reading of the next.
// use is called on the caller's goroutine, in plan order; when it fails,
// the scan is stopped and its error returned.
func (s *Service) streamStackValues(ctx context.Context, tenant string, q selectQuery, use func(*stackValues) error) error {
	if q.empty {
		return nil
	}
	plan := planBlocks(s.blocks.Blocks(tenant, q.start, q.end))
	values := make([]*stackValues, len(plan.blocks))
	scanned := make([]chan struct{}, len(plan.blocks))
	for i := range scanned {
		scanned[i] = make(chan struct{})
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// A block is read only while fewer than ahead blocks read before it
	// wait for use, so that the sums held at once stay a few blocks' worth
	// (8 MB each on the bench bucket) however slow use is.
	ahead := make(chan struct{}, s.parallelism())
	scanErr := make(chan error, 1)
	go func() {
		opts := scanOptions{
			columns: blockreader.ColumnSamples | blockreader.ColumnPartition,
			scanned: func(i int) { close(scanned[i]) },
			begin: func(ctx context.Context, _ int) error {
				select {
				case ahead <- struct{}{}:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			},
		}
		scanErr <- s.forEachProfile(ctx, plan, q, opts, func(i int, b *bucket.Block, _ *blockSeries) rowVisitor {
			values[i] = newStackValues(ctx, b, &s.sums)
			return func(row *blockreader.ProfileRow, _ int) error { return values[i].add(row) }
		})
	}()
	finished := false // scanErr has been received, and was nil
	for i := range values {
		if !finished {
			select {
			case <-scanned[i]:
			case err := <-scanErr:
				if err != nil {
					return err
				}
				finished = true
			}
		}
		if values[i] == nil {
			<-ahead
			continue
		}
		err := use(values[i])
		values[i] = nil
		<-ahead
		if err != nil {
			if !finished {
				cancel()
				<-scanErr
			}
			return err
		}
	}
	if !finished {
		return <-scanErr
	}
	return nil
}

// SelectMergeProfile merges the selected profiles into one pprof profile.
//
// NOTE: the profile comes already encoded, as the unknown fields of an
// otherwise empty message (see encodedProfile): marshalling it gives the
// profile's bytes. A Go caller reads it with DecodeProfile. The handler
// serves serveMergeProfile instead.
func (s *Service) SelectMergeProfile(ctx context.Context, req *connect.Request[querierv1.SelectMergeProfileRequest]) (*connect.Response[googlev1.Profile], error) {
	b, err := s.mergeProfile(ctx, req.Msg)
	if err != nil {
		return nil, err
	}
	raw, err := (&mergedProfile{b: b, release: s.releaseProfileBuilder}).appendEncoded(nil)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(encodedProfile(raw)), nil
}

// serveMergeProfile is SelectMergeProfile for the handler: the answer
// keeps the builder, for the codec to encode (see mergedProfile).
func (s *Service) serveMergeProfile(ctx context.Context, req *connect.Request[querierv1.SelectMergeProfileRequest]) (*connect.Response[mergedProfile], error) {
	b, err := s.mergeProfile(ctx, req.Msg)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&mergedProfile{b: b, release: s.releaseProfileBuilder}), nil
}

// mergeProfile merges the profiles that m selects into a builder, which
// the caller releases (releaseProfileBuilder) once it has encoded it.
func (s *Service) mergeProfile(ctx context.Context, m *querierv1.SelectMergeProfileRequest) (_ *flamegraph.ProfileBuilder, err error) {
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
	b := s.profileBuilder(flamegraph.ProfileTypeInfo{
		Name: pt.Name, SampleType: pt.SampleType, SampleUnit: pt.SampleUnit, PeriodType: pt.PeriodType, PeriodUnit: pt.PeriodUnit,
	}, m.Start, m.End)
	defer func() {
		if err != nil {
			s.releaseProfileBuilder(b)
		}
	}()
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
	// Pyroscope's frontend queries up to two sub-ranges; each store
	// truncates every partition of every block on its own, and the profiles
	// are merged without further truncation. A sub-range without samples
	// adds neither time nor duration.
	b.SetMaxNodes(maxNodes)
	b.SetParallelism(s.parallelism())
	var timeNanos, durationNanos int64
	nodes := nodeSums{sums: &s.sums}
	defer nodes.release()
	for _, r := range frontendSubRanges(q.start, q.end) {
		sub := q
		sub.start, sub.end = r[0], r[1]
		before := b.Total()
		err := s.streamStackValues(ctx, tenant, sub, func(v *stackValues) error {
			defer v.release()
			for _, pv := range v.sorted() {
				var err error
				if pv.inner == nil {
					err = b.AddPartitionLeaves(pv.part, pv.leaf)
				} else {
					err = b.AddPartition(pv.part, nodes.fill(pv))
					nodes.done(pv)
				}
				if err != nil {
					return wrapBlock(v.block, err)
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if b.Total() != before {
			if t := sub.end * int64(time.Millisecond); timeNanos == 0 || t < timeNanos {
				timeNanos = t
			}
			durationNanos += (sub.end - sub.start) * int64(time.Millisecond)
		}
	}
	b.SetTimes(timeNanos, durationNanos)
	return b, nil
}

// blockMerge adds the stacks of the profiles a query selects, block by
// block, to trees.
type blockMerge struct {
	s            *Service
	q            selectQuery
	partitionMax int64 // budget of each partition's own tree; 0 for none
}

// addBlocksInOrder adds the selected profiles of every block of plan to t,
// one block after the other, so that a profile found in several blocks
// counts once.
func (m blockMerge) addBlocksInOrder(ctx context.Context, t *flamegraph.Tree, plan blockPlan) error {
	seen := map[profileKey]struct{}{}
	for _, b := range plan.blocks {
		if err := m.addBlock(ctx, t, b, seen); err != nil {
			return err
		}
	}
	return nil
}

// addBlock adds the selected profiles of block b to t, every partition
// truncated on its own. With seen, profiles in it are skipped (see
// scanBlock).
func (m blockMerge) addBlock(ctx context.Context, t *flamegraph.Tree, b *bucket.Block, seen map[profileKey]struct{}) error {
	v, err := m.sum(ctx, b, seen)
	if v == nil || err != nil {
		return err
	}
	defer v.release()
	nodes := nodeSums{sums: &m.s.sums}
	defer nodes.release()
	for _, pv := range v.sorted() {
		if err := m.addPartition(t, v, pv, &nodes); err != nil {
			return err
		}
	}
	return nil
}

// sum sums the selected profiles of block b per stack; nil when it has
// none. With seen, profiles in it are skipped (see scanBlock).
func (m blockMerge) sum(ctx context.Context, b *bucket.Block, seen map[profileKey]struct{}) (*stackValues, error) {
	var v *stackValues
	err := m.s.scanBlock(ctx, b, m.q, scanOptions{columns: blockreader.ColumnSamples | blockreader.ColumnPartition}, seen,
		func(b *bucket.Block, _ *blockSeries) rowVisitor {
			v = newStackValues(ctx, b, &m.s.sums)
			// The partitions' name trees, which the merge needs, are made
			// as the scan loads them, while they are in the cache.
			v.loaded = m.s.names.Prepare
			return func(row *blockreader.ProfileRow, _ int) error { return v.add(row) }
		})
	if err != nil {
		if v != nil {
			v.release()
		}
		return nil, err
	}
	return v, nil
}

// addPartition adds one partition of the block values v to t, truncated
// on its own, from its sums per leaf. A call-site query zeroes the stacks
// outside the call site in per-node values lent by nodes.
func (m blockMerge) addPartition(t *flamegraph.Tree, v *stackValues, pv *partitionValues, nodes *nodeSums) error {
	var err error
	if len(m.q.callSite) == 0 {
		err = t.AddLeavesTruncated(pv.part, pv.leaf, pv.inner, m.partitionMax)
	} else {
		// Stacks outside the call site are zeroed node by node.
		self := nodes.fill(pv)
		match := flamegraph.NewCallSiteMatcher(m.q.callSite).Match(pv.part)
		for n := range self {
			if !match[n] {
				self[n] = 0
			}
		}
		err = t.AddPartitionTruncated(pv.part, self, m.partitionMax)
		nodes.done(pv)
	}
	if err != nil {
		return wrapBlock(v.block, err)
	}
	return nil
}

// truncate returns t cut to maxNodes (Tree.Truncate) in a tree lent by the
// service, lending t to later queries in turn; or t when nothing is cut.
func (s *Service) truncate(t *flamegraph.Tree, maxNodes int64) *flamegraph.Tree {
	if maxNodes < 1 || int64(t.Len()) <= maxNodes {
		return t
	}
	out := t.TruncateTo(s.blockTree(), maxNodes)
	s.releaseTree(t)
	return out
}

// frontendSubRanges splits [start, end] (ms) the way Pyroscope's frontend
// does with range splitting off (api.md §5.4): sub-ranges are aligned to
// multiples of twice the range's length in nanoseconds, and adjacent ones
// do not overlap. That gives one range, or two when such a multiple B falls
// inside: [start, B-1ms] and [B, end]. An empty or inverted range is
// returned as is.
func frontendSubRanges(start, end int64) [][2]int64 {
	const msNanos = int64(time.Millisecond)
	// Ranges whose arithmetic below would overflow are not split.
	if start >= end || start < 0 || end > math.MaxInt64/msNanos || 2*end-start > math.MaxInt64/msNanos {
		return [][2]int64{{start, end}}
	}
	startNs, endNs := start*msNanos, end*msNanos
	interval := 2 * (endNs - startNs)
	var out [][2]int64
	for startNs < endNs {
		next := startNs + interval
		next -= next % interval
		subEnd := endNs
		if next < endNs {
			subEnd = next - 1
		}
		out = append(out, [2]int64{startNs / msNanos, subEnd / msNanos})
		startNs = next
	}
	return out
}
