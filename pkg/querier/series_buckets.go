package querier

import (
	"cmp"
	"slices"

	"github.com/cinder-profiling/cinder/pkg/blockreader"
	typesv1 "github.com/cinder-profiling/cinder/proto/types/v1"
)

// seriesPoint is one profile's contribution to a time series.
type seriesPoint struct {
	timestampMs int64
	value       float64
	annotations []*typesv1.ProfileAnnotation
	exemplar    *typesv1.Exemplar
}

// seriesBuilder collects per-profile values of each output series and turns
// them into points on buckets anchored at start: t_i = start + i*step for
// t_i <= end. Bucket t_0 takes every profile at or before start (the fetch
// reaches back one step), bucket t_i the profiles in (t_{i-1}, t_i].
type seriesBuilder struct {
	start, end, stepMs int64
	average            bool

	keys   map[string]int // labels key → series number
	labels []blockreader.Labels
	points [][]seriesPoint
}

func newSeriesBuilder(start, end, stepMs int64, average bool) *seriesBuilder {
	return &seriesBuilder{start: start, end: end, stepMs: stepMs, average: average, keys: map[string]int{}}
}

// add records one profile's value for the series with labels ls (sorted by
// name; key is their encoding).
func (b *seriesBuilder) add(key string, ls blockreader.Labels, p seriesPoint) {
	i, ok := b.keys[key]
	if !ok {
		i = len(b.labels)
		b.keys[key] = i
		b.labels = append(b.labels, ls)
		b.points = append(b.points, nil)
	}
	b.points[i] = append(b.points[i], p)
}

// bucket returns the right edge of the bucket holding a timestamp, and
// false when it falls after the last bucket.
func (b *seriesBuilder) bucket(ts int64) (int64, bool) {
	if ts <= b.start {
		return b.start, true
	}
	i := (ts - b.start + b.stepMs - 1) / b.stepMs
	t := b.start + i*b.stepMs
	return t, t <= b.end
}

// build returns the series ordered by total value descending, then by
// labels, cut to limit when limit > 0.
func (b *seriesBuilder) build(limit int64) []*typesv1.Series {
	type built struct {
		series *typesv1.Series
		labels blockreader.Labels
		total  float64
	}
	out := make([]built, 0, len(b.labels))
	for i, ls := range b.labels {
		pts := b.points[i]
		slices.SortStableFunc(pts, func(x, y seriesPoint) int { return cmp.Compare(x.timestampMs, y.timestampMs) })
		s := &typesv1.Series{Labels: toLabelPairs(ls)}
		var total float64
		for j := 0; j < len(pts); {
			t, ok := b.bucket(pts[j].timestampMs)
			if !ok {
				break
			}
			var (
				sum         float64
				n           int
				annotations []*typesv1.ProfileAnnotation
				exemplars   []*typesv1.Exemplar
			)
			for ; j < len(pts); j++ {
				if tj, _ := b.bucket(pts[j].timestampMs); tj != t {
					break
				}
				sum += pts[j].value
				n++
				annotations = append(annotations, pts[j].annotations...)
				if pts[j].exemplar != nil {
					exemplars = append(exemplars, pts[j].exemplar)
				}
			}
			v := sum
			if b.average {
				v = sum / float64(n)
			}
			total += v
			s.Points = append(s.Points, &typesv1.Point{Timestamp: t, Value: v, Annotations: annotations, Exemplars: exemplars})
		}
		if len(s.Points) == 0 {
			// Every profile fell after the last bucket.
			continue
		}
		out = append(out, built{series: s, labels: ls, total: total})
	}
	slices.SortFunc(out, func(x, y built) int {
		if c := cmp.Compare(y.total, x.total); c != 0 {
			return c
		}
		return compareLabels(x.labels, y.labels)
	})
	if limit > 0 && int64(len(out)) > limit {
		out = out[:limit]
	}
	series := make([]*typesv1.Series, len(out))
	for i, o := range out {
		series[i] = o.series
	}
	return series
}

func toLabelPairs(ls blockreader.Labels) []*typesv1.LabelPair {
	if len(ls) == 0 {
		return nil
	}
	pairs := make([]*typesv1.LabelPair, len(ls))
	for i, l := range ls {
		pairs[i] = &typesv1.LabelPair{Name: l.Name, Value: l.Value}
	}
	return pairs
}
