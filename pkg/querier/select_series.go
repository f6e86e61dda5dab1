package querier

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"

	"connectrpc.com/connect"

	"github.com/cinder-profiling/cinder/pkg/blockreader"
	"github.com/cinder-profiling/cinder/pkg/bucket"
	"github.com/cinder-profiling/cinder/pkg/flamegraph"
	querierv1 "github.com/cinder-profiling/cinder/proto/querier/v1"
	typesv1 "github.com/cinder-profiling/cinder/proto/types/v1"
)

var (
	errStepZero     = errors.New("step must be non-zero")
	errStepNegative = errors.New("step must be positive")
	errStepTooSmall = errors.New("step must be at least 0.001 (one millisecond)")
	errLimit        = errors.New("limit must not be negative")
)

// SelectSeries turns the total value of each selected profile into time
// series, one per distinct combination of the group_by labels.
func (s *Service) SelectSeries(ctx context.Context, req *connect.Request[querierv1.SelectSeriesRequest]) (*connect.Response[querierv1.SelectSeriesResponse], error) {
	m := req.Msg
	tenant, err := s.tenant(ctx)
	if err != nil {
		return nil, err
	}
	q, err := s.parseSelectQuery(m.ProfileTypeID, m.LabelSelector, m.Start, m.End, nil)
	if err != nil {
		return nil, err
	}
	stepMs, err := validateStep(m.Step)
	if err != nil {
		return nil, err
	}
	average := false
	switch m.GetAggregation() {
	case typesv1.TimeSeriesAggregationType_TIME_SERIES_AGGREGATION_TYPE_SUM:
	case typesv1.TimeSeriesAggregationType_TIME_SERIES_AGGREGATION_TYPE_AVERAGE:
		average = true
	default:
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("aggregation: unknown type %d", m.GetAggregation()))
	}
	if m.GetLimit() < 0 {
		return nil, connect.NewError(connect.CodeInvalidArgument, errLimit)
	}
	callSite, err := callSiteNames(m.GetStackTraceSelector())
	if err != nil {
		return nil, err
	}
	if buckets := (q.end-q.start)/stepMs + 1; s.cfg.MaxSeriesPoints > 0 && buckets > int64(s.cfg.MaxSeriesPoints) {
		return nil, connect.NewError(connect.CodeResourceExhausted, fmt.Errorf(
			"the query would produce %d points per series, over the limit of %d (-querier.max-series-points); use a larger step", buckets, s.cfg.MaxSeriesPoints))
	}
	exemplars := m.ExemplarType == typesv1.ExemplarType_EXEMPLAR_TYPE_INDIVIDUAL || m.ExemplarType == typesv1.ExemplarType_EXEMPLAR_TYPE_SPAN

	builder := newSeriesBuilder(q.start, q.end, stepMs, average)
	if !q.empty {
		groupBy := slices.Clone(m.GroupBy)
		slices.Sort(groupBy)
		groupBy = slices.Compact(groupBy)
		// The first bucket collects everything up to one step before start.
		q.start -= stepMs
		plan := planBlocks(s.blocks.Blocks(tenant, q.start, q.end))
		opts := scanOptions{columns: blockreader.ColumnTotalValue | blockreader.ColumnAnnotations, withLabels: true}
		if exemplars {
			opts.columns |= blockreader.ColumnID
		}
		if len(callSite) > 0 {
			opts.columns |= blockreader.ColumnSamples | blockreader.ColumnPartition
		}
		points := make([][]pendingPoint, len(plan.blocks))
		err := s.forEachProfile(ctx, plan, q, opts, func(i int, b *bucket.Block, series *blockSeries) rowVisitor {
			groups := make([]seriesGroup, len(series.labels))
			for j, ls := range series.labels {
				groups[j] = newSeriesGroup(ls, groupBy)
			}
			var sites *callSiteValues
			if len(callSite) > 0 {
				sites = newCallSiteValues(ctx, b, callSite)
			}
			return func(row *blockreader.ProfileRow, pos int) error {
				value := float64(row.TotalValue)
				if sites != nil {
					v, err := sites.value(row)
					if err != nil {
						return err
					}
					value = float64(v)
				}
				p := pendingPoint{group: &groups[pos], point: seriesPoint{
					timestampMs: row.TimeNanos / 1e6,
					value:       value,
					annotations: toAnnotations(row.Annotations),
				}}
				if exemplars {
					p.point.exemplar = &typesv1.Exemplar{
						Timestamp: row.TimeNanos / 1e6,
						ProfileId: formatUUID(row.ID),
						Value:     int64(row.TotalValue),
						Labels:    groups[pos].rest,
					}
				}
				points[i] = append(points[i], p)
				return nil
			}
		})
		if err != nil {
			return nil, err
		}
		for _, ps := range points {
			for _, p := range ps {
				builder.add(p.group.key, p.group.labels, p.point)
			}
		}
	}
	series := builder.build(m.GetLimit())
	if exemplars {
		keepLargestExemplar(series)
	}
	return connect.NewResponse(&querierv1.SelectSeriesResponse{Series: series}), nil
}

type pendingPoint struct {
	group *seriesGroup
	point seriesPoint
}

// seriesGroup is the output series a stored series belongs to.
type seriesGroup struct {
	key    string
	labels blockreader.Labels // the group_by labels the series has, sorted
	rest   []*typesv1.LabelPair
}

func newSeriesGroup(ls blockreader.Labels, groupBy []string) seriesGroup {
	var g seriesGroup
	for _, name := range groupBy {
		if v, ok := ls.Get(name); ok {
			g.labels = append(g.labels, blockreader.Label{Name: name, Value: v})
		}
	}
	g.key = string(appendLabelsKey(nil, g.labels))
	for _, l := range projectLabels(ls, nil, true) {
		if _, grouped := slices.BinarySearch(groupBy, l.Name); !grouped {
			g.rest = append(g.rest, &typesv1.LabelPair{Name: l.Name, Value: l.Value})
		}
	}
	return g
}

// validateStep turns a step in seconds into whole milliseconds.
func validateStep(step float64) (int64, error) {
	switch {
	case step == 0:
		return 0, connect.NewError(connect.CodeInvalidArgument, errStepZero)
	case math.IsNaN(step) || math.IsInf(step, 0):
		return 0, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("step %v is not a number of seconds", step))
	case step < 0:
		return 0, connect.NewError(connect.CodeInvalidArgument, errStepNegative)
	}
	ms := int64(step * 1000)
	if ms < 1 {
		return 0, connect.NewError(connect.CodeInvalidArgument, errStepTooSmall)
	}
	return ms, nil
}

// keepLargestExemplar leaves on each point only the exemplar of its
// largest profile.
func keepLargestExemplar(series []*typesv1.Series) {
	for _, s := range series {
		for _, p := range s.Points {
			if len(p.Exemplars) <= 1 {
				continue
			}
			best := p.Exemplars[0]
			for _, e := range p.Exemplars[1:] {
				if e.Value > best.Value {
					best = e
				}
			}
			p.Exemplars = []*typesv1.Exemplar{best}
		}
	}
}

func toAnnotations(as []blockreader.Annotation) []*typesv1.ProfileAnnotation {
	if len(as) == 0 {
		return nil
	}
	out := make([]*typesv1.ProfileAnnotation, len(as))
	for i, a := range as {
		out[i] = &typesv1.ProfileAnnotation{Key: a.Key, Value: a.Value}
	}
	return out
}

func formatUUID(u [16]byte) string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:36], u[10:16])
	return string(b[:])
}

// callSiteValues sums, per profile, the samples whose stacks pass a
// call_site selector. Which nodes pass is computed once per partition.
type callSiteValues struct {
	stacks  *stackValues // reused for its partition loading
	matcher *flamegraph.CallSiteMatcher
	matches map[uint64][]bool
}

func newCallSiteValues(ctx context.Context, b *bucket.Block, callSite []string) *callSiteValues {
	return &callSiteValues{stacks: newStackValues(ctx, b, nil), matcher: flamegraph.NewCallSiteMatcher(callSite), matches: map[uint64][]bool{}}
}

func (c *callSiteValues) value(row *blockreader.ProfileRow) (int64, error) {
	pv, err := c.stacks.partition(row.Partition)
	if err != nil {
		return 0, err
	}
	match, ok := c.matches[row.Partition]
	if !ok {
		match = slices.Clone(c.matcher.Match(pv.part))
		c.matches[row.Partition] = match
	}
	var sum int64
	for i, id := range row.StacktraceIDs {
		v := row.Values[i]
		if v <= 0 {
			continue
		}
		node, err := stackNode(pv.part, id)
		if err != nil {
			return 0, err
		}
		if node >= 0 && match[node] {
			sum += v
		}
	}
	return sum, nil
}

// callSiteNames returns a stack trace selector's call site, root first. A
// frame without a name can match no stack and is the caller's mistake.
func callSiteNames(sts *typesv1.StackTraceSelector) ([]string, error) {
	var names []string
	for i, l := range sts.GetCallSite() {
		if l.GetName() == "" {
			return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("stack_trace_selector.call_site[%d]: the function name is empty", i))
		}
		names = append(names, l.GetName())
	}
	return names, nil
}
