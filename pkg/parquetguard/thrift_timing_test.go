package parquetguard

import "testing"

// BenchmarkStructLen measures the walk that precedes every footer and page
// header decode.
func BenchmarkStructLen(b *testing.B) {
	footer := testFooter(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(footer)))
	for b.Loop() {
		if _, err := StructLen(footer); err != nil {
			b.Fatal(err)
		}
	}
}
