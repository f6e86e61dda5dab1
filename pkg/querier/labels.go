package querier

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"connectrpc.com/connect"

	"github.com/cinder-profiling/cinder/pkg/blockreader"
	"github.com/cinder-profiling/cinder/pkg/bucket"
	"github.com/cinder-profiling/cinder/pkg/selector"
	querierv1 "github.com/cinder-profiling/cinder/proto/querier/v1"
	typesv1 "github.com/cinder-profiling/cinder/proto/types/v1"
)

var errNameRequired = errors.New("name is required")

// Label RPCs are block-granular: every series of every block overlapping the
// range counts, whatever the timestamps of its profiles.

// ProfileTypes returns the distinct profile types of the blocks overlapping
// the range, sorted by ID.
func (s *Service) ProfileTypes(ctx context.Context, req *connect.Request[querierv1.ProfileTypesRequest]) (*connect.Response[querierv1.ProfileTypesResponse], error) {
	blocks, err := s.labelBlocks(ctx, req.Msg.Start, req.Msg.End)
	if err != nil {
		return nil, err
	}
	ids := map[string]struct{}{}
	for _, b := range blocks {
		for _, id := range b.Index.LabelValues(selector.ProfileTypeLabel) {
			ids[id] = struct{}{}
		}
	}
	resp := &querierv1.ProfileTypesResponse{}
	for _, id := range sortedKeys(ids) {
		pt, err := selector.ParseProfileTypeID(id)
		if err != nil {
			// Written by a foreign tool; not a type a client could query.
			s.logger.WarnContext(ctx, "skipping malformed profile type in index", "profile_type", id, "err", err)
			continue
		}
		resp.ProfileTypes = append(resp.ProfileTypes, &typesv1.ProfileType{
			ID:         pt.ID,
			Name:       pt.Name,
			SampleType: pt.SampleType,
			SampleUnit: pt.SampleUnit,
			PeriodType: pt.PeriodType,
			PeriodUnit: pt.PeriodUnit,
		})
	}
	return connect.NewResponse(resp), nil
}

// LabelNames returns the distinct label names of the series matching every
// selector (several selectors intersect, as on Pyroscope's v1 blocks).
func (s *Service) LabelNames(ctx context.Context, req *connect.Request[typesv1.LabelNamesRequest]) (*connect.Response[typesv1.LabelNamesResponse], error) {
	sets, err := selector.ParseSelectors(req.Msg.Matchers)
	if err != nil {
		return nil, err
	}
	blocks, err := s.labelBlocks(ctx, req.Msg.Start, req.Msg.End)
	if err != nil {
		return nil, err
	}
	names := map[string]struct{}{}
	for _, b := range blocks {
		if selector.SelectsAll(sets) {
			for _, n := range b.Index.LabelNames() {
				names[n] = struct{}{}
			}
			continue
		}
		refs, err := selector.SelectSeriesIntersection(b.Index, sets)
		if err != nil {
			return nil, blockError(b, err)
		}
		var series blockreader.Series
		for _, ref := range refs {
			if err := b.Index.Series(ref, &series); err != nil {
				return nil, blockError(b, err)
			}
			for _, l := range series.Labels {
				names[l.Name] = struct{}{}
			}
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	utf8 := capabilitiesFrom(ctx).AllowUTF8LabelNames
	resp := &typesv1.LabelNamesResponse{}
	for _, n := range sortedKeys(names) {
		if utf8 || isLegacyLabelName(n) {
			resp.Names = append(resp.Names, n)
		}
	}
	return connect.NewResponse(resp), nil
}

// LabelValues returns the distinct values of one label among the series
// matching every selector.
func (s *Service) LabelValues(ctx context.Context, req *connect.Request[typesv1.LabelValuesRequest]) (*connect.Response[typesv1.LabelValuesResponse], error) {
	if req.Msg.Name == "" {
		return nil, connect.NewError(connect.CodeInvalidArgument, errNameRequired)
	}
	sets, err := selector.ParseSelectors(req.Msg.Matchers)
	if err != nil {
		return nil, err
	}
	blocks, err := s.labelBlocks(ctx, req.Msg.Start, req.Msg.End)
	if err != nil {
		return nil, err
	}
	values := map[string]struct{}{}
	for _, b := range blocks {
		candidates := b.Index.LabelValues(req.Msg.Name)
		if selector.SelectsAll(sets) {
			for _, v := range candidates {
				values[v] = struct{}{}
			}
			continue
		}
		if len(candidates) == 0 {
			continue
		}
		refs, err := selector.SelectSeriesIntersection(b.Index, sets)
		if err != nil {
			return nil, blockError(b, err)
		}
		// A value counts when its postings meet the selected series: no
		// series needs decoding.
		for _, v := range candidates {
			if _, seen := values[v]; seen {
				continue
			}
			p, err := b.Index.Postings(req.Msg.Name, v)
			if err != nil {
				return nil, blockError(b, err)
			}
			if selector.Intersects(p, refs) {
				values[v] = struct{}{}
			}
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	return connect.NewResponse(&typesv1.LabelValuesResponse{Names: sortedKeys(values)}), nil
}

// Series returns the distinct label sets of the series matching any
// selector, projected onto label_names when given, sorted by label set.
func (s *Service) Series(ctx context.Context, req *connect.Request[querierv1.SeriesRequest]) (*connect.Response[querierv1.SeriesResponse], error) {
	sets, err := selector.ParseSelectors(req.Msg.Matchers)
	if err != nil {
		return nil, err
	}
	blocks, err := s.labelBlocks(ctx, req.Msg.Start, req.Msg.End)
	if err != nil {
		return nil, err
	}
	utf8 := capabilitiesFrom(ctx).AllowUTF8LabelNames
	var project []string
	for _, n := range req.Msg.LabelNames {
		if (utf8 || isLegacyLabelName(n)) && !slices.Contains(project, n) {
			project = append(project, n)
		}
	}
	var (
		seen   = map[string]struct{}{}
		result []blockreader.Labels
		series blockreader.Series
		key    []byte
	)
	for _, b := range blocks {
		refs, err := selector.SelectSeriesUnion(b.Index, sets)
		if err != nil {
			return nil, blockError(b, err)
		}
		for _, ref := range refs {
			if err := b.Index.Series(ref, &series); err != nil {
				return nil, blockError(b, err)
			}
			ls := projectLabels(series.Labels, project, utf8)
			key = appendLabelsKey(key[:0], ls)
			if _, dup := seen[string(key)]; dup {
				continue
			}
			seen[string(key)] = struct{}{}
			result = append(result, ls)
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	slices.SortFunc(result, compareLabels)
	resp := &querierv1.SeriesResponse{LabelsSet: make([]*typesv1.Labels, 0, len(result))}
	for _, ls := range result {
		pairs := make([]*typesv1.LabelPair, len(ls))
		for i, l := range ls {
			pairs[i] = &typesv1.LabelPair{Name: l.Name, Value: l.Value}
		}
		resp.LabelsSet = append(resp.LabelsSet, &typesv1.Labels{Labels: pairs})
	}
	return connect.NewResponse(resp), nil
}

// labelBlocks validates a label RPC's range and returns the tenant's blocks
// that overlap it.
func (s *Service) labelBlocks(ctx context.Context, start, end int64) ([]*bucket.Block, error) {
	tenantID, err := s.tenant(ctx)
	if err != nil {
		return nil, err
	}
	tr, err := s.labelRange(start, end)
	if err != nil || tr.empty {
		return nil, err
	}
	return s.blocks.Blocks(tenantID, tr.start, tr.end), nil
}

// projectLabels returns a new label set sorted by name: the labels named in
// names, or with no names every label a client can handle.
func projectLabels(ls blockreader.Labels, names []string, utf8 bool) blockreader.Labels {
	var out blockreader.Labels
	if len(names) > 0 {
		out = make(blockreader.Labels, 0, len(names))
		for _, n := range names {
			if v, ok := ls.Get(n); ok {
				out = append(out, blockreader.Label{Name: n, Value: v})
			}
		}
	} else {
		out = make(blockreader.Labels, 0, len(ls))
		for _, l := range ls {
			if utf8 || isLegacyLabelName(l.Name) {
				out = append(out, l)
			}
		}
	}
	slices.SortFunc(out, func(a, b blockreader.Label) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// compareLabels orders label sets pair by pair, name then value, a prefix
// before its extensions: the order Pyroscope uses everywhere.
func compareLabels(a, b blockreader.Labels) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if c := strings.Compare(a[i].Name, b[i].Name); c != 0 {
			return c
		}
		if c := strings.Compare(a[i].Value, b[i].Value); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(a), len(b))
}

// appendLabelsKey appends an unambiguous encoding of ls: names and values
// cannot contain 0xff in valid UTF-8.
func appendLabelsKey(dst []byte, ls blockreader.Labels) []byte {
	for _, l := range ls {
		dst = append(dst, l.Name...)
		dst = append(dst, 0xff)
		dst = append(dst, l.Value...)
		dst = append(dst, 0xff)
	}
	return dst
}

func blockError(b *bucket.Block, err error) error {
	return fmt.Errorf("block %s: index.tsdb: %w", b.Meta.ULID, err)
}

func sortedKeys(m map[string]struct{}) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
