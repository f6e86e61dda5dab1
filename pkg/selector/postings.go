package selector

import "github.com/cinder-profiling/cinder/pkg/blockreader"

// Series reference lists here are ascending and free of duplicates, as
// postings lists are on disk. Each operation returns a new slice and leaves
// its inputs alone.

// Intersect returns the refs present in both a and b.
func Intersect(a, b []blockreader.SeriesRef) []blockreader.SeriesRef {
	if len(a) > len(b) {
		a, b = b, a
	}
	out := make([]blockreader.SeriesRef, 0, len(a))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] < b[j]:
			i++
		case a[i] > b[j]:
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	return out
}

// Subtract returns the refs of a that are not in b.
func Subtract(a, b []blockreader.SeriesRef) []blockreader.SeriesRef {
	out := make([]blockreader.SeriesRef, 0, len(a))
	j := 0
	for _, r := range a {
		for j < len(b) && b[j] < r {
			j++
		}
		if j < len(b) && b[j] == r {
			continue
		}
		out = append(out, r)
	}
	return out
}

// Union returns the refs present in a or b.
func Union(a, b []blockreader.SeriesRef) []blockreader.SeriesRef {
	out := make([]blockreader.SeriesRef, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] < b[j]:
			out = append(out, a[i])
			i++
		case a[i] > b[j]:
			out = append(out, b[j])
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	out = append(out, a[i:]...)
	return append(out, b[j:]...)
}

// Intersects reports whether a and b have a ref in common.
func Intersects(a, b []blockreader.SeriesRef) bool {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] < b[j]:
			i++
		case a[i] > b[j]:
			j++
		default:
			return true
		}
	}
	return false
}
