package flamegraph

import (
	"math"

	querierv1 "github.com/cinder-profiling/cinder/proto/querier/v1"
	typesv1 "github.com/cinder-profiling/cinder/proto/types/v1"
)

// RenderResponse is the JSON body of the legacy GET /pyroscope/render and
// /pyroscope/render-diff endpoints (api.md §8.2, §8.3). Marshalled with
// encoding/json, its fields come out in Pyroscope's order.
type RenderResponse struct {
	Version     int                  `json:"version"`
	Flamebearer Flamebearer          `json:"flamebearer"`
	Metadata    RenderMetadata       `json:"metadata"`
	Timeline    *Timeline            `json:"timeline"`
	Groups      map[string]*Timeline `json:"groups"`
	Heatmap     *struct{}            `json:"heatmap"` // always null in v1
	LeftTicks   int64                `json:"leftTicks,omitempty"`
	RightTicks  int64                `json:"rightTicks,omitempty"`
}

// Flamebearer is a flame graph as the legacy endpoints send it: the names
// and delta-encoded levels of a FlameGraph (4 values per node) or a
// FlameGraphDiff (7 values per node) as plain integers.
type Flamebearer struct {
	Names    []string  `json:"names"`
	Levels   [][]int64 `json:"levels"`
	NumTicks int64     `json:"numTicks"`
	MaxSelf  int64     `json:"maxSelf"`
}

// RenderMetadata describes the profile of a RenderResponse.
type RenderMetadata struct {
	// Format is "single", or "double" for a diff.
	Format     string `json:"format"`
	SpyName    string `json:"spyName"`
	SampleRate uint32 `json:"sampleRate"`
	Units      string `json:"units"`
	// Name is the sample type.
	Name string `json:"name"`
}

// Timeline is a time series of a RenderResponse: one sample per step of
// DurationDelta seconds from StartTime (Unix seconds), zero-filled.
type Timeline struct {
	StartTime     int64         `json:"startTime"`
	Samples       []uint64      `json:"samples"`
	DurationDelta int64         `json:"durationDelta"`
	Watermarks    map[int]int64 `json:"watermarks"` // always null
}

// NewRenderMetadata returns the metadata Pyroscope derives from a profile
// type: units are the sample unit except "objects" for the sample types
// inuse_objects, alloc_objects, goroutine and samples, and "samples" for
// cpu; the sample rate is 1e9 for cpu and 100 otherwise.
func NewRenderMetadata(pt ProfileTypeInfo, format string) RenderMetadata {
	m := RenderMetadata{Format: format, SampleRate: 100, Units: pt.SampleUnit, Name: pt.SampleType}
	switch pt.SampleType {
	case "inuse_objects", "alloc_objects", "goroutine", "samples":
		m.Units = "objects"
	case "cpu":
		m.Units = "samples"
		m.SampleRate = 1_000_000_000
	}
	return m
}

// NewRender returns the /pyroscope/render body for a flame graph, with the
// timeline and, when a groupBy was asked for, the per-group timelines (nil
// groups is JSON null).
func NewRender(fg *querierv1.FlameGraph, pt ProfileTypeInfo, timeline *Timeline, groups map[string]*Timeline) *RenderResponse {
	return &RenderResponse{
		Version: 1,
		Flamebearer: Flamebearer{
			Names:    fg.GetNames(),
			Levels:   plainLevels(fg.GetLevels()),
			NumTicks: fg.GetTotal(),
			MaxSelf:  fg.GetMaxSelf(),
		},
		Metadata: NewRenderMetadata(pt, "single"),
		Timeline: timeline,
		Groups:   groups,
	}
}

// NewRenderDiff returns the /pyroscope/render-diff body for a diff: format
// "double", 7 values per node, numTicks the sum of both sides, leftTicks
// and rightTicks (omitted when 0) and no timeline.
func NewRenderDiff(d *querierv1.FlameGraphDiff, pt ProfileTypeInfo) *RenderResponse {
	return &RenderResponse{
		Version: 1,
		Flamebearer: Flamebearer{
			Names:    d.GetNames(),
			Levels:   plainLevels(d.GetLevels()),
			NumTicks: d.GetTotal(),
			MaxSelf:  d.GetMaxSelf(),
		},
		Metadata:   NewRenderMetadata(pt, "double"),
		LeftTicks:  d.GetLeftTicks(),
		RightTicks: d.GetRightTicks(),
	}
}

func plainLevels(levels []*querierv1.Level) [][]int64 {
	out := make([][]int64, len(levels))
	for i, l := range levels {
		out[i] = l.GetValues()
		if out[i] == nil {
			out[i] = []int64{}
		}
	}
	return out
}

// NewTimeline lays out series points for the range [fromMs, untilMs] with a
// step of stepSec seconds (api.md §8.2): StartTime is fromMs in seconds
// floored to a multiple of the step, and there is one sample per step up to
// untilMs floored to the step (exclusive). A point lands in the step its
// timestamp falls in, as its value truncated to an integer (negative and NaN
// values count as 0, several points in one step add up, values
// beyond uint64 saturate); points outside the
// steps are ignored. Nil points give a zero-filled timeline.
func NewTimeline(points []*typesv1.Point, fromMs, untilMs, stepSec int64) *Timeline {
	if stepSec < 1 {
		stepSec = 1
	}
	start := floorDiv(fromMs/1000, stepSec) * stepSec
	t := &Timeline{StartTime: start, DurationDelta: stepSec, Samples: []uint64{}}
	n := (untilMs/1000 - start) / stepSec
	if fromMs >= untilMs || n <= 0 {
		return t
	}
	t.Samples = make([]uint64, n)
	for _, p := range points {
		sec := floorDiv(p.GetTimestamp(), 1000)
		if sec < start {
			continue
		}
		i := (sec - start) / stepSec
		if i >= n {
			continue
		}
		switch v := p.GetValue(); {
		case v >= math.MaxUint64:
			t.Samples[i] = math.MaxUint64
		case v > 0:
			t.Samples[i] += uint64(v)
		}
	}
	return t
}

// NewTimelineGroups returns one timeline per value of the groupBy label
// ("*" for series without it), as the groups of /pyroscope/render; nil
// when groupBy is empty. Series with the same key add up.
func NewTimelineGroups(series []*typesv1.Series, groupBy string, fromMs, untilMs, stepSec int64) map[string]*Timeline {
	if groupBy == "" {
		return nil
	}
	groups := make(map[string]*Timeline, len(series))
	for _, s := range series {
		key := "*"
		for _, l := range s.GetLabels() {
			if l.GetName() == groupBy {
				key = l.GetValue()
				break
			}
		}
		tl := NewTimeline(s.GetPoints(), fromMs, untilMs, stepSec)
		if prev, ok := groups[key]; ok {
			for i := range prev.Samples {
				prev.Samples[i] += tl.Samples[i]
			}
			continue
		}
		groups[key] = tl
	}
	return groups
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
