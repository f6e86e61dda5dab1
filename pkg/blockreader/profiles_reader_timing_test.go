package blockreader

import (
	"bytes"
	"context"
	"testing"
)

// benchmarkProfiles returns the medium blocks' profiles tables, opened from
// memory, or synthetic tables of similar size when the shared data is
// missing.
func benchmarkProfiles(b *testing.B) (readers []*ProfilesReader, size int64) {
	var files [][]byte
	if testdata, ok := findSharedTestdata(); ok {
		for _, pb := range profilesBlocks[4:] {
			files = append(files, readProfilesFile(b, testdata, pb.ulid))
		}
	} else {
		for seed := range 3 {
			files = append(files, writeSynthProfiles(b, synthProfiles(uint64(seed), 4000, 150), synthOptions{variant: synthD}))
		}
	}
	for _, f := range files {
		readers = append(readers, openBytes(b, f))
		size += int64(len(f))
	}
	return readers, size
}

func BenchmarkProfilesReader(b *testing.B) {
	readers, size := benchmarkProfiles(b)
	ctx := context.Background()
	everySeries := allTime(seq(0, 1<<12))
	scan := func(b *testing.B, sel ProfileSelection, cols ProfileColumns, bytes int64) {
		b.ReportAllocs()
		b.SetBytes(bytes)
		var rows, samples int
		for b.Loop() {
			rows, samples = 0, 0
			for _, p := range readers {
				err := p.Scan(ctx, sel, cols, func(r *ProfileRow) error {
					rows++
					samples += len(r.Values)
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(rows), "rows/op")
		b.ReportMetric(float64(samples), "samples/op")
	}
	b.Run("AllSamples", func(b *testing.B) {
		scan(b, everySeries, ColumnSamples|ColumnPartition|ColumnTotalValue, size)
	})
	b.Run("AllColumns", func(b *testing.B) {
		scan(b, everySeries, AllProfileColumns, size)
	})
	b.Run("OneSeries", func(b *testing.B) {
		// The series with the most rows in the first block.
		var counts [1 << 12]int
		readers[0].Scan(ctx, everySeries, 0, func(r *ProfileRow) error {
			counts[r.SeriesIndex]++
			return nil
		})
		best := 0
		for s, n := range counts {
			if n > counts[best] {
				best = s
			}
		}
		scan(b, allTime([]uint32{uint32(best)}), ColumnSamples|ColumnPartition|ColumnTotalValue, size)
	})
	b.Run("SeriesAndTime", func(b *testing.B) {
		scan(b, everySeries, 0, size)
	})
}

func BenchmarkOpenProfiles(b *testing.B) {
	testdata := sharedTestdata(b)
	data := readProfilesFile(b, testdata, profilesBlocks[4].ulid)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := OpenProfiles(bytes.NewReader(data), int64(len(data))); err != nil {
			b.Fatal(err)
		}
	}
}
