package blockreader

import (
	"testing"
)

// benchmarkIndex returns the largest index of the shared test data, or a
// built one of similar size when the shared data is missing.
func benchmarkIndex(b *testing.B) []byte {
	if testdata, ok := findSharedTestdata(); ok {
		return readBlockFile(b, testdata, blockByULID(b, "01HHYG6245NWHZWVP27V8WJRT7"), IndexFilename)
	}
	return buildIndex(sampleSeries(2000))
}

func BenchmarkIndexReader(b *testing.B) {
	data := benchmarkIndex(b)
	r, err := NewIndexReader(data)
	if err != nil {
		b.Fatal(err)
	}
	all, err := r.AllPostings()
	if err != nil {
		b.Fatal(err)
	}
	// The label with the most values, as a regex matcher would select.
	var wideName string
	for _, n := range r.LabelNames() {
		if len(r.LabelValues(n)) > len(r.LabelValues(wideName)) {
			wideName = n
		}
	}
	wideValues := r.LabelValues(wideName)
	profileType := r.LabelValues("__profile_type__")[0]

	b.Run("Open", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, err := NewIndexReader(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Validate", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if err := r.Validate(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("LabelNames", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = r.LabelNames()
		}
	})
	b.Run("LabelValues", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = r.LabelValues(wideName)
		}
	})
	b.Run("PostingsOneValue", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := r.Postings("__profile_type__", profileType); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("PostingsAllValues", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := r.Postings(wideName, wideValues...); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("AllSeries", func(b *testing.B) {
		b.ReportAllocs()
		var s Series
		for b.Loop() {
			for _, ref := range all {
				if err := r.Series(ref, &s); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(all)), "ns/series")
	})
	// What a label query on a block not opened before costs.
	b.Run("OpenAndQuery", func(b *testing.B) {
		b.ReportAllocs()
		var s Series
		for b.Loop() {
			r, err := NewIndexReader(data)
			if err != nil {
				b.Fatal(err)
			}
			_ = r.LabelValues(wideName)
			refs, err := r.Postings("__profile_type__", profileType)
			if err != nil {
				b.Fatal(err)
			}
			for _, ref := range refs {
				if err := r.Series(ref, &s); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("Parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			var s Series
			for pb.Next() {
				refs, err := r.Postings(wideName, wideValues...)
				if err != nil {
					b.Fatal(err)
				}
				for _, ref := range refs {
					if err := r.Series(ref, &s); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	})
}
