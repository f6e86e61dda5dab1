package querier

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"connectrpc.com/connect"
	"github.com/prometheus/prometheus/model/labels"
	"golang.org/x/sync/errgroup"

	"github.com/cinder-profiling/cinder/pkg/flamegraph"
	"github.com/cinder-profiling/cinder/pkg/selector"
	querierv1 "github.com/cinder-profiling/cinder/proto/querier/v1"
	typesv1 "github.com/cinder-profiling/cinder/proto/types/v1"
)

// LegacyHandler serves Pyroscope's older HTTP API under /pyroscope/:
// render, render-diff and label-values. They call the same methods as the
// RPCs, so every validation rule and limit applies.
func (s *Service) LegacyHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /pyroscope/render", s.legacy(s.render))
	mux.HandleFunc("GET /pyroscope/render-diff", s.legacy(s.renderDiff))
	mux.HandleFunc("GET /pyroscope/label-values", s.legacy(s.labelValues))
	return mux
}

// legacy resolves the tenant, runs fn and writes its answer as JSON, or
// its error as a Connect error body.
func (s *Service) legacy(fn func(ctx context.Context, r *http.Request) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tenantID, err := ResolveTenant(s.cfg.MultitenancyEnabled, r.Header.Get(OrgIDHeader))
		var body any
		if err == nil {
			body, err = fn(WithTenant(r.Context(), tenantID), r)
		}
		if err != nil {
			writeLegacyError(w, toConnectError(r.Context(), s.logger, r.URL.Path, err))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if err := json.NewEncoder(w).Encode(body); err != nil {
			s.logger.WarnContext(r.Context(), "writing response", "path", r.URL.Path, "err", err)
		}
	}
}

func writeLegacyError(w http.ResponseWriter, err error) {
	code := connect.CodeUnknown
	msg := err.Error()
	var ce *connect.Error
	if errors.As(err, &ce) {
		code, msg = ce.Code(), ce.Message()
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(httpStatus(code))
	json.NewEncoder(w).Encode(struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}{code.String(), msg})
}

// httpStatus is the Connect protocol's HTTP status for a code.
func httpStatus(c connect.Code) int {
	switch c {
	case connect.CodeCanceled:
		return 499
	case connect.CodeInvalidArgument, connect.CodeOutOfRange, connect.CodeFailedPrecondition:
		return http.StatusBadRequest
	case connect.CodeDeadlineExceeded:
		return http.StatusGatewayTimeout
	case connect.CodeNotFound:
		return http.StatusNotFound
	case connect.CodeAlreadyExists, connect.CodeAborted:
		return http.StatusConflict
	case connect.CodePermissionDenied:
		return http.StatusForbidden
	case connect.CodeResourceExhausted:
		return http.StatusTooManyRequests
	case connect.CodeUnimplemented:
		return http.StatusNotImplemented
	case connect.CodeUnavailable:
		return http.StatusServiceUnavailable
	case connect.CodeUnauthenticated:
		return http.StatusUnauthorized
	}
	return http.StatusInternalServerError
}

func invalidArgument(format string, args ...any) error {
	return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf(format, args...))
}

// legacyQuery is a parsed `query` parameter: a profile type ID in the
// metric-name position and a label selector.
type legacyQuery struct {
	profileType   selector.ProfileType
	labelSelector string
}

func parseLegacyQuery(q string) (legacyQuery, error) {
	if q == "" {
		return legacyQuery{}, invalidArgument(`"query" is required`)
	}
	ms, err := selector.ParseSelector(q)
	if err != nil {
		return legacyQuery{}, invalidArgument(`failed to parse "query": %v`,
			strings.TrimPrefix(err.Error(), selector.ErrInvalidSelector.Error()+": "))
	}
	var (
		rest []string
		id   string
	)
	for _, m := range ms {
		if m.Name == labels.MetricName && m.Type == labels.MatchEqual {
			id = m.Value
			continue
		}
		rest = append(rest, m.String())
	}
	if id == "" {
		return legacyQuery{}, invalidArgument(`"query" must contain a profile-type selection`)
	}
	pt, err := selector.ParseProfileTypeID(id)
	if err != nil {
		return legacyQuery{}, invalidArgument(`failed to parse "query": %v`, err)
	}
	return legacyQuery{profileType: pt, labelSelector: "{" + strings.Join(rest, ",") + "}"}, nil
}

// legacyMaxNodes reads max-nodes or maxNodes, the latter winning.
func legacyMaxNodes(r *http.Request) (int64, error) {
	var n int64
	for _, name := range []string{"max-nodes", "maxNodes"} {
		if v := r.URL.Query().Get(name); v != "" {
			parsed, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return 0, invalidArgument("%s: %q is not an integer", name, v)
			}
			n = parsed
		}
	}
	return n, nil
}

func profileTypeInfo(pt selector.ProfileType) flamegraph.ProfileTypeInfo {
	return flamegraph.ProfileTypeInfo{Name: pt.Name, SampleType: pt.SampleType, SampleUnit: pt.SampleUnit, PeriodType: pt.PeriodType, PeriodUnit: pt.PeriodUnit}
}

func (s *Service) render(ctx context.Context, r *http.Request) (any, error) {
	params := r.URL.Query()
	q, err := parseLegacyQuery(params.Get("query"))
	if err != nil {
		return nil, err
	}
	if params.Get("format") == "dot" {
		return nil, connect.NewError(connect.CodeUnimplemented, errDotFormat)
	}
	maxNodes, err := legacyMaxNodes(r)
	if err != nil {
		return nil, err
	}
	now := s.now()
	from, until := parseLegacyTime(params.Get("from"), now), parseLegacyTime(params.Get("until"), now)
	step := pointInterval(from, until)
	groupBy := params["groupBy"]
	aggregation := typesv1.TimeSeriesAggregationType_TIME_SERIES_AGGREGATION_TYPE_SUM
	if params.Get("aggregation") == "avg" {
		aggregation = typesv1.TimeSeriesAggregationType_TIME_SERIES_AGGREGATION_TYPE_AVERAGE
	}

	var (
		fg     *querierv1.FlameGraph
		series []*typesv1.Series
	)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		resp, err := s.SelectMergeStacktraces(gctx, connect.NewRequest(&querierv1.SelectMergeStacktracesRequest{
			ProfileTypeID: q.profileType.ID, LabelSelector: q.labelSelector, Start: from, End: until, MaxNodes: &maxNodes,
		}))
		if err == nil {
			fg = resp.Msg.Flamegraph
		}
		return err
	})
	g.Go(func() error {
		resp, err := s.SelectSeries(gctx, connect.NewRequest(&querierv1.SelectSeriesRequest{
			ProfileTypeID: q.profileType.ID, LabelSelector: q.labelSelector, Start: from, End: until,
			Step: step.Seconds(), GroupBy: groupBy, Aggregation: &aggregation,
		}))
		if err == nil {
			series = resp.Msg.Series
		}
		return err
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	stepSec := int64(step.Seconds())
	var points []*typesv1.Point
	if len(series) == 1 {
		points = series[0].Points
	}
	timeline := flamegraph.NewTimeline(points, from, until, stepSec)
	var groups map[string]*flamegraph.Timeline
	if len(groupBy) > 0 {
		groups = flamegraph.NewTimelineGroups(series, groupBy[0], from, until, stepSec)
	}
	return flamegraph.NewRender(fg, profileTypeInfo(q.profileType), timeline, groups), nil
}

func (s *Service) renderDiff(ctx context.Context, r *http.Request) (any, error) {
	params := r.URL.Query()
	left, err := parseLegacyQuery(params.Get("leftQuery"))
	if err != nil {
		return nil, err
	}
	right, err := parseLegacyQuery(params.Get("rightQuery"))
	if err != nil {
		return nil, err
	}
	if left.profileType.ID != right.profileType.ID {
		return nil, invalidArgument("profile types must match")
	}
	maxNodes, err := legacyMaxNodes(r)
	if err != nil {
		return nil, err
	}
	now := s.now()
	side := func(q legacyQuery, from, until string) *querierv1.SelectMergeStacktracesRequest {
		return &querierv1.SelectMergeStacktracesRequest{
			ProfileTypeID: q.profileType.ID, LabelSelector: q.labelSelector,
			Start: parseLegacyTime(params.Get(from), now), End: parseLegacyTime(params.Get(until), now), MaxNodes: &maxNodes,
		}
	}
	resp, err := s.Diff(ctx, connect.NewRequest(&querierv1.DiffRequest{
		Left:  side(left, "leftFrom", "leftUntil"),
		Right: side(right, "rightFrom", "rightUntil"),
	}))
	if err != nil {
		return nil, err
	}
	return flamegraph.NewRenderDiff(resp.Msg.Flamegraph, profileTypeInfo(left.profileType)), nil
}

// labelValues answers label=__name__ with the profile type IDs of all data
// (null when there is none) and any other label with its values.
func (s *Service) labelValues(ctx context.Context, r *http.Request) (any, error) {
	params := r.URL.Query()
	name := params.Get("label")
	if name == "" {
		return nil, invalidArgument("label parameter is required")
	}
	if name == labels.MetricName {
		resp, err := s.ProfileTypes(ctx, connect.NewRequest(&querierv1.ProfileTypesRequest{Start: 1, End: s.now().UnixMilli()}))
		if err != nil {
			return nil, err
		}
		var ids []string
		for _, pt := range resp.Msg.ProfileTypes {
			ids = append(ids, pt.ID)
		}
		return ids, nil
	}
	now := s.now()
	req := &typesv1.LabelValuesRequest{Name: name, Start: 1, End: now.UnixMilli()}
	if v := params.Get("from"); v != "" {
		req.Start = parseLegacyTime(v, now)
	}
	if v := params.Get("until"); v != "" {
		req.End = parseLegacyTime(v, now)
	}
	if q := params.Get("query"); q != "" {
		req.Matchers = []string{q}
	}
	resp, err := s.LabelValues(ctx, connect.NewRequest(req))
	if err != nil {
		return nil, err
	}
	return resp.Msg.Names, nil
}
