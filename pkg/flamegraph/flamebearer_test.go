package flamegraph

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"

	querierv1 "github.com/cinder-profiling/cinder/proto/querier/v1"
	typesv1 "github.com/cinder-profiling/cinder/proto/types/v1"
)

func TestNewRenderMetadata(t *testing.T) {
	tests := []struct {
		sampleType, sampleUnit string
		units                  string
		rate                   uint32
	}{
		{"cpu", "nanoseconds", "samples", 1_000_000_000},
		{"samples", "count", "objects", 100},
		{"inuse_objects", "count", "objects", 100},
		{"alloc_objects", "count", "objects", 100},
		{"goroutine", "count", "objects", 100},
		{"inuse_space", "bytes", "bytes", 100},
		{"wall", "microseconds", "microseconds", 100},
		{"contentions", "count", "count", 100},
	}
	for _, tc := range tests {
		t.Run(tc.sampleType, func(t *testing.T) {
			m := NewRenderMetadata(ProfileTypeInfo{SampleType: tc.sampleType, SampleUnit: tc.sampleUnit}, "single")
			if m.Units != tc.units || m.SampleRate != tc.rate || m.Name != tc.sampleType || m.Format != "single" || m.SpyName != "" {
				t.Errorf("metadata = %+v", m)
			}
		})
	}
}

func point(tsMs int64, v float64) *typesv1.Point { return &typesv1.Point{Timestamp: tsMs, Value: v} }

func TestNewTimeline(t *testing.T) {
	tests := []struct {
		name        string
		points      []*typesv1.Point
		from, until int64
		step        int64
		start       int64
		samples     []uint64
	}{
		{
			name: "aligned", from: 990_000, until: 1_050_000, step: 15, start: 990,
			points:  []*typesv1.Point{point(990_000, 1), point(1_020_000, 3.9), point(1_050_000, 9)},
			samples: []uint64{1, 0, 3, 0},
		},
		{
			name: "start and end floored to the step", from: 1_000_007_000, until: 1_000_064_000, step: 15, start: 1_000_005,
			points:  []*typesv1.Point{point(1_000_007_000, 2), point(1_000_004_999, 100), point(1_000_040_000, 5), point(1_000_050_000, 7)},
			samples: []uint64{2, 0, 5},
		},
		{
			name: "negative and NaN values", from: 0, until: 30_000, step: 15, start: 0,
			points:  []*typesv1.Point{point(0, -4), point(15_000, nanValue())},
			samples: []uint64{0, 0},
		},
		{
			name: "two points in a step add up", from: 0, until: 30_000, step: 15, start: 0,
			points:  []*typesv1.Point{point(1_000, 1), point(14_999, 2)},
			samples: []uint64{3, 0},
		},
		{name: "empty range", from: 5_000, until: 5_000, step: 15, start: 0, samples: []uint64{}},
		{name: "no points", from: 0, until: 45_000, step: 15, start: 0, samples: []uint64{0, 0, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tl := NewTimeline(tc.points, tc.from, tc.until, tc.step)
			if tl.StartTime != tc.start || tl.DurationDelta != tc.step || !slices.Equal(tl.Samples, tc.samples) {
				t.Errorf("timeline = %+v, want start %d samples %v", tl, tc.start, tc.samples)
			}
		})
	}
}

func nanValue() float64 {
	var zero float64
	return zero / zero
}

func TestNewRenderDiffJSON(t *testing.T) {
	d := NewDiff(
		treeOf(stackValue{"main;a", 10}, stackValue{"main;b", 2}),
		treeOf(stackValue{"main;a", 3}, stackValue{"main;c", 7}),
		DefaultMaxNodes)
	body, err := json.Marshal(NewRenderDiff(d, ProfileTypeInfo{Name: "process_cpu", SampleType: "cpu", SampleUnit: "nanoseconds"}))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"version":1,"flamebearer":{"names":["total","main","c","b","a"],"levels":[[0,12,0,0,10,0,0],[0,12,0,0,10,0,1],[0,10,10,0,3,3,4,0,2,2,0,0,0,3,0,0,0,0,7,7,2]],"numTicks":22,"maxSelf":10},` +
		`"metadata":{"format":"double","spyName":"","sampleRate":1000000000,"units":"samples","name":"cpu"},"timeline":null,"groups":null,"heatmap":null,"leftTicks":12,"rightTicks":10}`
	if string(body) != want {
		t.Errorf("render-diff body\n%s\nwant\n%s", body, want)
	}

	body, err = json.Marshal(NewRenderDiff(NewDiff(nil, nil, 0), ProfileTypeInfo{SampleType: "inuse_space", SampleUnit: "bytes"}))
	if err != nil {
		t.Fatal(err)
	}
	want = `{"version":1,"flamebearer":{"names":["total"],"levels":[[0,0,0,0,0,0,0]],"numTicks":0,"maxSelf":0},` +
		`"metadata":{"format":"double","spyName":"","sampleRate":100,"units":"bytes","name":"inuse_space"},"timeline":null,"groups":null,"heatmap":null}`
	if string(body) != want {
		t.Errorf("empty render-diff body\n%s\nwant\n%s", body, want)
	}
}

// renderSeries pairs render goldens with the SelectSeries golden of the
// same selection, range and step, which their timelines are built from.
var renderSeries = map[string]string{
	"fixtures/render_cpu_b3_ms":       "fixtures/SelectSeries_cpu_b3_step15_by_none_sum",
	"fixtures/render_cpu_b3_maxnodes": "fixtures/SelectSeries_cpu_b3_step15_by_none_sum",
	"fixtures/render_cpu_b3_groupby":  "fixtures/SelectSeries_cpu_b3_step15_by_service_name_sum",
}

// parseRenderTime reads a from/until parameter that is a Unix time in
// seconds or milliseconds (api.md §8.1; the goldens use only these).
func parseRenderTime(t testing.TB, s string) int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	if len(s) == 13 {
		return n
	}
	return n * 1000
}

// TestGoldenRender rebuilds every /pyroscope/render golden's flame graph,
// lays it out again and renders the body: flamebearer and metadata must
// equal the golden. Timelines are rebuilt from the matching SelectSeries
// golden where there is one, else only their shape is checked.
func TestGoldenRender(t *testing.T) {
	td := sharedTestdata(t)
	for _, c := range loadGoldens(t, "GET /pyroscope/render") {
		t.Run(c.Dataset+"/"+c.Name, func(t *testing.T) {
			var req struct {
				Params map[string]string `json:"query_params"`
			}
			if err := json.Unmarshal(c.Request, &req); err != nil {
				t.Fatal(err)
			}
			var golden struct {
				Flamebearer struct {
					Names    []string  `json:"names"`
					Levels   [][]int64 `json:"levels"`
					NumTicks int64     `json:"numTicks"`
				} `json:"flamebearer"`
				Timeline *Timeline `json:"timeline"`
			}
			if err := json.Unmarshal(c.Response, &golden); err != nil {
				t.Fatal(err)
			}
			q := req.Params["query"]
			parts := strings.Split(q[:strings.Index(q, "{")], ":")
			pt := ProfileTypeInfo{Name: parts[0], SampleType: parts[1], SampleUnit: parts[2], PeriodType: parts[3], PeriodUnit: parts[4]}
			var requested int64
			for _, k := range []string{"max-nodes", "maxNodes"} {
				if v, ok := req.Params[k]; ok {
					requested = parseInt(t, v)
				}
			}
			budget, err := ResolveMaxNodes(requested)
			if err != nil {
				t.Fatal(err)
			}
			from, until := parseRenderTime(t, req.Params["from"]), parseRenderTime(t, req.Params["until"])
			step := golden.Timeline.DurationDelta

			fb := golden.Flamebearer
			tr := treeFromLevels(rebuildLevels(t, fb.Names, fb.Levels, 4, 0, false))
			fg := tr.FlameGraph(budget)
			if d := firstLevelDiff(namedLevels(fg.Names, levelValues(fg.Levels), 4), namedLevels(fb.Names, fb.Levels, 4)); d != "" {
				if !hasOther(fb.Names, fb.Levels, 4) {
					t.Fatalf("layout: %s", d)
				}
				t.Logf("budget %d: %s; comparing without truncation", budget, d)
				fg = tr.FlameGraph(0)
			}

			var timeline *Timeline
			var groups map[string]*Timeline
			if name, ok := renderSeries[c.Dataset+"/"+c.Name]; ok {
				b, err := os.ReadFile(filepath.Join(td, "golden", name+".json"))
				if err != nil {
					t.Fatal(err)
				}
				var sc goldenCase
				if err := json.Unmarshal(b, &sc); err != nil {
					t.Fatal(err)
				}
				var resp querierv1.SelectSeriesResponse
				if err := protojson.Unmarshal(sc.Response, &resp); err != nil {
					t.Fatal(err)
				}
				// The timeline uses the series only when there is exactly one.
				var points []*typesv1.Point
				if len(resp.Series) == 1 {
					points = resp.Series[0].Points
				}
				timeline = NewTimeline(points, from, until, step)
				groups = NewTimelineGroups(resp.Series, req.Params["groupBy"], from, until, step)
			} else {
				// Shape only: the series behind it is not among the goldens.
				shape := NewTimeline(nil, from, until, step)
				if shape.StartTime != golden.Timeline.StartTime || len(shape.Samples) != len(golden.Timeline.Samples) {
					t.Fatalf("timeline shape: start %d, %d samples; golden start %d, %d samples",
						shape.StartTime, len(shape.Samples), golden.Timeline.StartTime, len(golden.Timeline.Samples))
				}
				timeline = golden.Timeline
			}

			body, err := json.Marshal(NewRender(fg, pt, timeline, groups))
			if err != nil {
				t.Fatal(err)
			}
			// Compare with names substituted: the table's order is free.
			got, want := renderLayout(t, body), renderLayout(t, c.Response)
			if got != want {
				t.Fatalf("render body differs:\n%s\nwant\n%s", clip(got), clip(want))
			}
		})
	}
}

// renderLayout reduces a render body to a string with names substituted
// into the levels, so bodies compare regardless of the names order.
func renderLayout(t testing.TB, body []byte) string {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	fb := v["flamebearer"].(map[string]any)
	var names []string
	for _, n := range fb["names"].([]any) {
		names = append(names, n.(string))
	}
	var levels [][]int64
	for _, l := range fb["levels"].([]any) {
		var vals []int64
		for _, x := range l.([]any) {
			vals = append(vals, int64(x.(float64)))
		}
		levels = append(levels, vals)
	}
	fb["levels"] = namedLevels(names, levels, 4)
	delete(fb, "names")
	out, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func clip(s string) string {
	if len(s) > 2000 {
		return s[:2000] + fmt.Sprintf("… (%d bytes)", len(s))
	}
	return s
}
