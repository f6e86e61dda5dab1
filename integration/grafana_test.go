package integration

import (
	"context"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	querierv1 "github.com/cinder-profiling/cinder/proto/querier/v1"
	"github.com/cinder-profiling/cinder/proto/querier/v1/querierv1connect"
	typesv1 "github.com/cinder-profiling/cinder/proto/types/v1"
)

// TestGrafanaExplore plays the calls Grafana's Pyroscope data source makes
// (api.md §9.1) when a user opens Explore on a profile type: a connect-go
// client built with no options, so the Connect protocol with the protobuf
// codec and gzip-compressed responses, in Grafana's order. Every response
// must decode and agree with the others.
func TestGrafanaExplore(t *testing.T) {
	root := sharedTestdata(t)
	s := startServer(t, filepath.Join(root, "blocks", "medium"))
	var sawGzip bool
	httpClient := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		resp, err := http.DefaultTransport.RoundTrip(r)
		if err == nil && resp.Header.Get("Content-Encoding") == "gzip" {
			sawGzip = true
		}
		return resp, err
	})}
	client := querierv1connect.NewQuerierServiceClient(httpClient, s.URL)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const start, end = 1709251200000, 1709262000000

	// "Save & test": the health check.
	if _, err := client.ProfileTypes(ctx, connect.NewRequest(&querierv1.ProfileTypesRequest{Start: 1000, End: 4000})); err != nil {
		t.Fatalf("health check: %v", err)
	}
	// The query editor lists profile types.
	pts, err := client.ProfileTypes(ctx, connect.NewRequest(&querierv1.ProfileTypesRequest{Start: start, End: end}))
	if err != nil {
		t.Fatal(err)
	}
	const cpu = "process_cpu:cpu:nanoseconds:cpu:nanoseconds"
	if !slices.ContainsFunc(pts.Msg.ProfileTypes, func(pt *typesv1.ProfileType) bool { return pt.ID == cpu }) {
		t.Fatalf("profile types lack %s", cpu)
	}
	// The label browser: names, then the values of one.
	names, err := client.LabelNames(ctx, connect.NewRequest(&typesv1.LabelNamesRequest{Matchers: []string{"{}"}, Start: start, End: end}))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(names.Msg.Names, "service_name") {
		t.Fatalf("label names %v lack service_name", names.Msg.Names)
	}
	for _, n := range names.Msg.Names {
		if strings.ContainsAny(n, ".-/") {
			t.Errorf("label name %q is not a legacy name, and Grafana did not ask for UTF-8 names", n)
		}
	}
	// The services with CPU profiles: all but the Node.js gateway.
	values, err := client.LabelValues(ctx, connect.NewRequest(&typesv1.LabelValuesRequest{
		Name: "service_name", Matchers: []string{`{__profile_type__="` + cpu + `"}`}, Start: start, End: end,
	}))
	if err != nil {
		t.Fatal(err)
	}
	if len(values.Msg.Names) != 7 || slices.Contains(values.Msg.Names, "gateway") {
		t.Errorf("services with CPU profiles: %v, want 7 without gateway", values.Msg.Names)
	}
	// Query type "both": the time series and the flame graph of each service.
	for _, svc := range values.Msg.Names {
		selector := `{service_name="` + svc + `"}`
		series, err := client.SelectSeries(ctx, connect.NewRequest(&querierv1.SelectSeriesRequest{
			ProfileTypeID: cpu, LabelSelector: selector, Start: start, End: end, Step: 15, GroupBy: []string{"pod"},
		}))
		if err != nil {
			t.Fatal(err)
		}
		fg, err := client.SelectMergeStacktraces(ctx, connect.NewRequest(&querierv1.SelectMergeStacktracesRequest{
			ProfileTypeID: cpu, LabelSelector: selector, Start: start, End: end,
		}))
		if err != nil {
			t.Fatal(err)
		}
		var sum float64
		for _, s := range series.Msg.Series {
			for _, p := range s.Points {
				sum += p.Value
			}
		}
		if total := fg.Msg.Flamegraph.GetTotal(); total == 0 || !closeEnough(sum, float64(total)) {
			t.Errorf("%s: series add up to %v, the flame graph total is %d", svc, sum, total)
		}
		if got, want := len(fg.Msg.Flamegraph.Levels[0].Values), 4; got != want {
			t.Errorf("%s: the root level has %d values, want %d", svc, got, want)
		}
	}
	if !sawGzip {
		t.Error("no response was gzip-compressed although the client accepts gzip")
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
