package querier

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cinder-profiling/cinder/pkg/blockreader"
	typesv1 "github.com/cinder-profiling/cinder/proto/types/v1"
)

func formatSeries(series []*typesv1.Series) string {
	var b strings.Builder
	for _, s := range series {
		b.WriteString("{")
		for _, l := range s.Labels {
			b.WriteString(l.Name + "=" + l.Value)
		}
		b.WriteString("}")
		for _, p := range s.Points {
			fmt.Fprintf(&b, " (%d, %g)", p.Timestamp, p.Value)
		}
		b.WriteString("; ")
	}
	return b.String()
}

// TestSeriesBuckets is the worked example of api.md §6.8: step 10 ms,
// start 1000, end 1040, grouped by pod.
func TestSeriesBuckets(t *testing.T) {
	profiles := []struct {
		pod   string
		ts    int64
		value float64
	}{
		{"a", 990, 1}, {"a", 1000, 2}, {"a", 1001, 4}, {"a", 1010, 8}, {"a", 1031, 16}, {"a", 1045, 32},
		{"b", 1005, 100}, {"b", 1005, 100},
	}
	for _, tc := range []struct {
		average bool
		limit   int64
		want    string
	}{
		{false, 0, "{pod=b} (1010, 200); {pod=a} (1000, 3) (1010, 12) (1040, 16); "},
		{true, 0, "{pod=b} (1010, 100); {pod=a} (1000, 1.5) (1010, 6) (1040, 16); "},
		{false, 1, "{pod=b} (1010, 200); "},
	} {
		t.Run(fmt.Sprintf("average=%v,limit=%d", tc.average, tc.limit), func(t *testing.T) {
			b := newSeriesBuilder(1000, 1040, 10, tc.average)
			for _, p := range profiles {
				ls := blockreader.Labels{{Name: "pod", Value: p.pod}}
				b.add(p.pod, ls, seriesPoint{timestampMs: p.ts, value: p.value})
			}
			if got := formatSeries(b.build(tc.limit)); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestSeriesOrderTies(t *testing.T) {
	b := newSeriesBuilder(0, 100, 100, false)
	for _, pod := range []string{"c", "a", "b"} {
		b.add(pod, blockreader.Labels{{Name: "pod", Value: pod}}, seriesPoint{timestampMs: 50, value: 1})
	}
	b.add("", nil, seriesPoint{timestampMs: 50, value: 1})
	if got, want := formatSeries(b.build(0)), "{} (100, 1); {pod=a} (100, 1); {pod=b} (100, 1); {pod=c} (100, 1); "; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
