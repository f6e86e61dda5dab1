package selector

import (
	"errors"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/cinder-profiling/cinder/pkg/blockreader"
)

// memIndex is an index over a handful of label sets, with postings built the
// way a block's index.tsdb stores them.
type memIndex struct {
	series   []map[string]string
	postings map[string]map[string][]blockreader.SeriesRef
}

func newMemIndex(series ...map[string]string) *memIndex {
	ix := &memIndex{series: series, postings: map[string]map[string][]blockreader.SeriesRef{}}
	for i, s := range series {
		for n, v := range s {
			if ix.postings[n] == nil {
				ix.postings[n] = map[string][]blockreader.SeriesRef{}
			}
			ix.postings[n][v] = append(ix.postings[n][v], blockreader.SeriesRef(i))
		}
	}
	return ix
}

func (ix *memIndex) LabelValues(name string) []string {
	var vs []string
	for v := range ix.postings[name] {
		vs = append(vs, v)
	}
	sort.Strings(vs)
	return vs
}

func (ix *memIndex) Postings(name string, values ...string) ([]blockreader.SeriesRef, error) {
	var out []blockreader.SeriesRef
	for _, v := range values {
		out = Union(out, ix.postings[name][v])
	}
	return out, nil
}

func (ix *memIndex) AllPostings() ([]blockreader.SeriesRef, error) {
	out := make([]blockreader.SeriesRef, len(ix.series))
	for i := range out {
		out[i] = blockreader.SeriesRef(i)
	}
	return out, nil
}

// bruteForce is the oracle: a series matches when every matcher accepts its
// value of the label, "" standing for an absent label.
func (ix *memIndex) bruteForce(ms []*labels.Matcher) []blockreader.SeriesRef {
	var out []blockreader.SeriesRef
	for i, s := range ix.series {
		ok := true
		for _, m := range ms {
			if !m.Matches(s[m.Name]) {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, blockreader.SeriesRef(i))
		}
	}
	return out
}

func testIndex() *memIndex {
	return newMemIndex(
		map[string]string{"__name__": "process_cpu", "service_name": "api", "pod": "api-1", "region": "eu"},
		map[string]string{"__name__": "process_cpu", "service_name": "api", "pod": "api-2"},
		map[string]string{"__name__": "memory", "service_name": "api", "pod": "api-1", "region": "us"},
		map[string]string{"__name__": "memory", "service_name": "db", "pod": "db-1", "region": "eu"},
		map[string]string{"__name__": "process_cpu", "job": "a"},
		map[string]string{"__name__": "process_cpu", "job": "b", "region": ""},
	)
}

func TestSelectSeries(t *testing.T) {
	ix := testIndex()
	for _, tc := range []struct {
		selector string
		want     []blockreader.SeriesRef
	}{
		{`{}`, []blockreader.SeriesRef{0, 1, 2, 3, 4, 5}},
		{`{service_name="api"}`, []blockreader.SeriesRef{0, 1, 2}},
		{`{service_name="api", __name__="memory"}`, []blockreader.SeriesRef{2}},
		{`memory{service_name="api"}`, []blockreader.SeriesRef{2}},
		{`{service_name!="api"}`, []blockreader.SeriesRef{3, 4, 5}},
		{`{service_name=""}`, []blockreader.SeriesRef{4, 5}},
		{`{service_name!=""}`, []blockreader.SeriesRef{0, 1, 2, 3}},
		{`{region=~"e.*"}`, []blockreader.SeriesRef{0, 3}},
		{`{region=~"e.*|"}`, []blockreader.SeriesRef{0, 1, 3, 4, 5}},
		{`{region!~"e.*"}`, []blockreader.SeriesRef{1, 2, 4, 5}},
		{`{region=~".*"}`, []blockreader.SeriesRef{0, 1, 2, 3, 4, 5}},
		{`{region=~".+"}`, []blockreader.SeriesRef{0, 2, 3}},
		{`{job=~"a|b", region!="x"}`, []blockreader.SeriesRef{4, 5}},
		{`{job="zzz"}`, nil},
		{`{nolabel="x"}`, nil},
		{`{nolabel!="x"}`, []blockreader.SeriesRef{0, 1, 2, 3, 4, 5}},
		{`{pod=~"api-.*", region!~"us"}`, []blockreader.SeriesRef{0, 1}},
	} {
		t.Run(tc.selector, func(t *testing.T) {
			ms, err := ParseSelector(tc.selector)
			if err != nil {
				t.Fatal(err)
			}
			got, err := SelectSeries(ix, ms)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			if oracle := ix.bruteForce(ms); !slices.Equal(got, oracle) {
				t.Errorf("got %v, brute force says %v", got, oracle)
			}
		})
	}
}

func TestSelectSeriesSets(t *testing.T) {
	ix := testIndex()
	parse := func(ss ...string) [][]*labels.Matcher {
		sets, err := ParseSelectors(ss)
		if err != nil {
			t.Fatal(err)
		}
		return sets
	}
	for _, tc := range []struct {
		name      string
		selectors []string
		intersect []blockreader.SeriesRef
		union     []blockreader.SeriesRef
	}{
		{"none", nil, []blockreader.SeriesRef{0, 1, 2, 3, 4, 5}, []blockreader.SeriesRef{0, 1, 2, 3, 4, 5}},
		{"one", []string{`{job="a"}`}, []blockreader.SeriesRef{4}, []blockreader.SeriesRef{4}},
		{"disjoint", []string{`{job="a"}`, `{service_name="api"}`}, nil, []blockreader.SeriesRef{0, 1, 2, 4}},
		{"overlapping", []string{`{service_name="api"}`, `{region="eu"}`}, []blockreader.SeriesRef{0}, []blockreader.SeriesRef{0, 1, 2, 3}},
		{"any empty selects all", []string{`{job="a"}`, `{}`}, []blockreader.SeriesRef{0, 1, 2, 3, 4, 5}, []blockreader.SeriesRef{0, 1, 2, 3, 4, 5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sets := parse(tc.selectors...)
			got, err := SelectSeriesIntersection(ix, sets)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.intersect) {
				t.Errorf("intersection: got %v, want %v", got, tc.intersect)
			}
			got, err = SelectSeriesUnion(ix, sets)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.union) {
				t.Errorf("union: got %v, want %v", got, tc.union)
			}
		})
	}
}

func TestParseSelector(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    int // number of matchers
		wantErr string
	}{
		{`{}`, 0, ""},
		{`{a="b",}`, 1, ""},
		{`{a=""}`, 1, ""},
		{`{"service.name"="x"}`, 1, ""},
		{`process_cpu:cpu:nanoseconds:cpu:nanoseconds{a="b"}`, 2, ""},
		{`{a=~"("}`, 0, "parse error"},
		{``, 0, "unexpected end of input"},
		{`not a selector`, 0, "parse error"},
		{`{service_name=}`, 0, "parse error"},
		{`{a="b"`, 0, "parse error"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			ms, err := ParseSelector(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, ErrInvalidSelector) {
					t.Fatalf("got %v, want an ErrInvalidSelector containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(ms) != tc.want {
				t.Errorf("got %d matchers %v, want %d", len(ms), ms, tc.want)
			}
		})
	}
}

func TestParseProfileTypeID(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    ProfileType
		wantErr string
	}{
		{"process_cpu:cpu:nanoseconds:cpu:nanoseconds", ProfileType{
			ID: "process_cpu:cpu:nanoseconds:cpu:nanoseconds", Name: "process_cpu", SampleType: "cpu",
			SampleUnit: "nanoseconds", PeriodType: "cpu", PeriodUnit: "nanoseconds"}, ""},
		{"memory:alloc_space:bytes::", ProfileType{
			ID: "memory:alloc_space:bytes::", Name: "memory", SampleType: "alloc_space", SampleUnit: "bytes"}, ""},
		{"memory:alloc_space:bytes:space:bytes:delta", ProfileType{
			ID: "memory:alloc_space:bytes:space:bytes", Name: "memory", SampleType: "alloc_space",
			SampleUnit: "bytes", PeriodType: "space", PeriodUnit: "bytes"}, ""},
		{"::::", ProfileType{ID: "::::"}, ""},
		{"process_cpu", ProfileType{}, `got(1): "process_cpu"`},
		{"", ProfileType{}, `got(1): ""`},
		{"a:b:c:d:e:f:g", ProfileType{}, "got(7)"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseProfileTypeID(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, ErrInvalidProfileType) {
					t.Fatalf("got %v, want an error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestSetOperations(t *testing.T) {
	a := []blockreader.SeriesRef{1, 3, 5, 7}
	b := []blockreader.SeriesRef{2, 3, 4, 7, 9}
	if got := Intersect(a, b); !slices.Equal(got, []blockreader.SeriesRef{3, 7}) {
		t.Errorf("Intersect = %v", got)
	}
	if got := Union(a, b); !slices.Equal(got, []blockreader.SeriesRef{1, 2, 3, 4, 5, 7, 9}) {
		t.Errorf("Union = %v", got)
	}
	if got := Subtract(a, b); !slices.Equal(got, []blockreader.SeriesRef{1, 5}) {
		t.Errorf("Subtract = %v", got)
	}
	if got := Subtract(a, nil); !slices.Equal(got, a) {
		t.Errorf("Subtract(a, nil) = %v", got)
	}
}
