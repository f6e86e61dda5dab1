package selector

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/cinder-profiling/cinder/internal/repopath"
	"github.com/cinder-profiling/cinder/pkg/blockreader"
)

// realIndexes opens the index of every block of the shared test data.
func realIndexes(t *testing.T) map[string]*blockreader.IndexReader {
	t.Helper()
	root, err := repopath.SharedTestdata()
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(root, "blocks", "*", "*", "phlaredb", "*", "index.tsdb"))
	partial, _ := filepath.Glob(filepath.Join(root, "partial", "*", "index.tsdb"))
	files = append(files, partial...)
	if len(files) == 0 {
		t.Skipf("shared test data not found under %s: these tests need ../shared/testdata beside the repository", root)
	}
	out := map[string]*blockreader.IndexReader{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		ix, err := blockreader.NewIndexReader(b)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[filepath.Base(filepath.Dir(f))] = ix
	}
	return out
}

// TestSelectSeriesRealBlocks checks matching through postings against a
// brute-force evaluation of the matchers on every decoded series.
func TestSelectSeriesRealBlocks(t *testing.T) {
	selectors := []string{
		`{}`,
		`{service_name="pyroscope"}`,
		`{service_name!="pyroscope"}`,
		`{service_name=""}`,
		`{service_name=~"simple.*|check.*"}`,
		`{service_name!~"simple.*"}`,
		`{__profile_type__="process_cpu:cpu:nanoseconds:cpu:nanoseconds"}`,
		`{__profile_type__=~"memory:.*", job!="a"}`,
		`{__name__="memory", __type__=~"inuse.*"}`,
		`process_cpu{job=~"a|b"}`,
		`{job=""}`,
		`{namespace=~"shop|ml", region!~"us-.*"}`,
		`{pod=~".+", service_name="payments"}`,
		`{region=~".*"}`,
		`{no_such_label="x"}`,
		`{no_such_label!="x"}`,
	}
	for block, ix := range realIndexes(t) {
		all, err := ix.AllPostings()
		if err != nil {
			t.Fatal(err)
		}
		series := make([]blockreader.Series, len(all))
		for i, ref := range all {
			if err := ix.Series(ref, &series[i]); err != nil {
				t.Fatal(err)
			}
		}
		for _, sel := range selectors {
			t.Run(block+"/"+sel, func(t *testing.T) {
				ms, err := ParseSelector(sel)
				if err != nil {
					t.Fatal(err)
				}
				got, err := SelectSeries(ix, ms)
				if err != nil {
					t.Fatal(err)
				}
				var want []blockreader.SeriesRef
				for i, s := range series {
					ok := true
					for _, m := range ms {
						v, _ := s.Labels.Get(m.Name)
						ok = ok && m.Matches(v)
					}
					if ok {
						want = append(want, all[i])
					}
				}
				if !slices.Equal(got, want) {
					t.Errorf("got %d series %v, brute force %d %v", len(got), got, len(want), want)
				}
			})
		}
	}
}
