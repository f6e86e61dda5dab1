package selector

import (
	"github.com/prometheus/prometheus/model/labels"

	"github.com/cinder-profiling/cinder/pkg/blockreader"
)

// Index is the part of a block's series index that matching needs.
// *blockreader.IndexReader implements it.
type Index interface {
	LabelValues(name string) []string
	Postings(name string, values ...string) ([]blockreader.SeriesRef, error)
	AllPostings() ([]blockreader.SeriesRef, error)
}

// SelectSeries returns the ascending refs of the series that match every
// matcher. With no matchers every series matches. As in Prometheus, a matcher
// that accepts the empty string also accepts series without that label.
func SelectSeries(ix Index, ms []*labels.Matcher) ([]blockreader.SeriesRef, error) {
	var (
		refs        []blockreader.SeriesRef
		haveRefs    bool
		subtractors []*labels.Matcher
	)
	for _, m := range ms {
		if m.Matches("") {
			if !matchesEverything(m) {
				subtractors = append(subtractors, m)
			}
			continue
		}
		p, err := postingsFor(ix, m, false)
		if err != nil {
			return nil, err
		}
		if !haveRefs {
			refs, haveRefs = p, true
		} else {
			refs = Intersect(refs, p)
		}
		if len(refs) == 0 {
			return nil, nil
		}
	}
	if !haveRefs {
		all, err := ix.AllPostings()
		if err != nil {
			return nil, err
		}
		refs = all
	}
	// A matcher that accepts "" keeps series without the label and drops the
	// series whose value it rejects.
	for _, m := range subtractors {
		p, err := postingsFor(ix, m, true)
		if err != nil {
			return nil, err
		}
		if len(p) > 0 {
			refs = Subtract(refs, p)
		}
		if len(refs) == 0 {
			return nil, nil
		}
	}
	return refs, nil
}

// SelectSeriesIntersection returns the series matching every one of the
// matcher sets, as Pyroscope's v1 blocks answer LabelNames and LabelValues.
func SelectSeriesIntersection(ix Index, sets [][]*labels.Matcher) ([]blockreader.SeriesRef, error) {
	if SelectsAll(sets) {
		return ix.AllPostings()
	}
	var refs []blockreader.SeriesRef
	for i, ms := range sets {
		r, err := SelectSeries(ix, ms)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			refs = r
		} else {
			refs = Intersect(refs, r)
		}
		if len(refs) == 0 {
			return nil, nil
		}
	}
	return refs, nil
}

// SelectSeriesUnion returns the series matching any of the matcher sets, as
// the Series RPC answers.
func SelectSeriesUnion(ix Index, sets [][]*labels.Matcher) ([]blockreader.SeriesRef, error) {
	if SelectsAll(sets) {
		return ix.AllPostings()
	}
	var refs []blockreader.SeriesRef
	for _, ms := range sets {
		r, err := SelectSeries(ix, ms)
		if err != nil {
			return nil, err
		}
		refs = Union(refs, r)
	}
	return refs, nil
}

func matchesEverything(m *labels.Matcher) bool {
	return m.Type == labels.MatchRegexp && m.Value == ".*"
}

// postingsFor returns the union of the postings of every value of m's label
// that m accepts, or with rejected set, that m rejects.
func postingsFor(ix Index, m *labels.Matcher, rejected bool) ([]blockreader.SeriesRef, error) {
	if m.Type == labels.MatchEqual && !rejected {
		return ix.Postings(m.Name, m.Value)
	}
	var values []string
	for _, v := range ix.LabelValues(m.Name) {
		if m.Matches(v) != rejected {
			values = append(values, v)
		}
	}
	if len(values) == 0 {
		return nil, nil
	}
	return ix.Postings(m.Name, values...)
}
