package parallelgzip

import (
	"bytes"
	"fmt"
	"io"
	"testing"

	"github.com/klauspost/compress/gzip"
)

// BenchmarkWriter compresses 8 MiB, the size of an all-CPU merged profile
// of the bench bucket, with this package's Writer and with klauspost's
// gzip.Writer, which compresses serially, both at BestSpeed.
func BenchmarkWriter(b *testing.B) {
	data := testData(8<<20, 1)
	b.Run("serial", func(b *testing.B) {
		z, err := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed)
		if err != nil {
			b.Fatal(err)
		}
		benchmarkCompressor(b, z, data)
	})
	for _, chunk := range []int{128 << 10, 512 << 10, 2 << 20} {
		b.Run(fmt.Sprintf("parallel/chunk=%dKiB", chunk>>10), func(b *testing.B) {
			z, err := NewWriterLevel(io.Discard, gzip.BestSpeed)
			if err != nil {
				b.Fatal(err)
			}
			z.chunkSize = chunk
			benchmarkCompressor(b, z, data)
		})
	}
}

type compressor interface {
	io.WriteCloser
	Reset(io.Writer)
}

func benchmarkCompressor(b *testing.B, z compressor, data []byte) {
	var out bytes.Buffer
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		out.Reset()
		z.Reset(&out)
		if _, err := z.Write(data); err != nil {
			b.Fatal(err)
		}
		if err := z.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(out.Len())/float64(len(data)), "ratio")
}
