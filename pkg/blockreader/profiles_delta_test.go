package blockreader

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/parquet-go/parquet-go/encoding/delta"
)

// deltaStreams returns DELTA_BINARY_PACKED streams written by parquet-go,
// of lengths around block and mini block boundaries and deltas of every
// bit width.
func deltaStreams(tb testing.TB) (streams [][]byte, values [][]int64) {
	rng := rand.New(rand.NewPCG(1, 2))
	var enc delta.BinaryPackedEncoding
	for _, n := range []int{0, 1, 2, 31, 32, 33, 127, 128, 129, 1000, 4097} {
		for _, bitsWide := range []int{0, 1, 7, 31, 32, 33, 63, 64} {
			v := make([]int64, n)
			for i := range v {
				switch bitsWide {
				case 0:
					v[i] = 42
				default:
					v[i] = int64(rng.Uint64() >> (64 - bitsWide))
				}
			}
			if bitsWide == 33 && n > 2 { // extremes next to each other
				v[0], v[1] = math.MinInt64, math.MaxInt64
			}
			b, err := enc.EncodeInt64(nil, v)
			if err != nil {
				tb.Fatal(err)
			}
			streams, values = append(streams, b), append(values, v)
		}
	}
	return streams, values
}

func TestDeltaDecoder(t *testing.T) {
	streams, values := deltaStreams(t)
	var d deltaDecoder
	buf := make([]int64, 0, 7) // grows; leftovers from earlier streams must not leak
	for i, b := range streams {
		got, err := d.decodeInt64(buf, b, len(values[i]))
		if err != nil {
			t.Fatalf("stream %d (%d values): %v", i, len(values[i]), err)
		}
		if !slices.Equal(got, values[i]) {
			t.Fatalf("stream %d (%d values): decoded differently", i, len(values[i]))
		}
		buf = got
		if len(values[i]) > 0 {
			if _, err := d.decodeInt64(buf, b, len(values[i])-1); err == nil {
				t.Errorf("stream %d: more values than wanted accepted", i)
			}
		}
		// Every truncation fails or decodes a prefix, without panicking.
		for n := range len(b) {
			_, _ = d.decodeInt64(buf, b[:n], len(values[i]))
		}
	}
}

// FuzzDeltaDecoder checks the decoder against parquet-go's: whatever
// parquet-go decodes, it decodes alike, and it never panics.
func FuzzDeltaDecoder(f *testing.F) {
	streams, _ := deltaStreams(f)
	for _, b := range streams {
		if len(b) < 2000 {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := checkDeltaCount(b, 1<<16); err != nil {
			return // parquet-go would allocate what the header says
		}
		var d deltaDecoder
		got, err := d.decodeInt64(nil, b, 1<<16)
		want, wantErr := parquetGoDeltaInt64(b)
		if wantErr == nil && (err != nil && !errors.Is(err, errDeltaBitWidth) || err == nil && !slices.Equal(got, want)) {
			t.Fatalf("parquet-go decodes %d values, this decoder %d (%v)", len(want), len(got), err)
		}
	})
}

func parquetGoDeltaInt64(b []byte) (v []int64, err error) {
	defer recoverMalformed(&err)
	var enc delta.BinaryPackedEncoding
	return enc.DecodeInt64(nil, b)
}

func BenchmarkDeltaDecoder(b *testing.B) {
	// Stack-trace IDs ascending in small steps and values of 20 bits or so,
	// like the samples of a profile.
	rng := rand.New(rand.NewPCG(1, 2))
	ids, values := make([]int64, 100000), make([]int64, 100000)
	for i := range ids {
		ids[i] = int64(i*7 + rng.IntN(7))
		values[i] = rng.Int64N(1 << 20)
	}
	for _, tc := range []struct {
		name string
		v    []int64
	}{{"StacktraceIDs", ids}, {"Values", values}} {
		var enc delta.BinaryPackedEncoding
		src, _ := enc.EncodeInt64(nil, tc.v)
		b.Run(tc.name, func(b *testing.B) {
			b.Run("parquet-go", func(b *testing.B) {
				b.SetBytes(int64(8 * len(tc.v)))
				var dst []int64
				for b.Loop() {
					dst, _ = enc.DecodeInt64(dst, src)
				}
			})
			b.Run("deltaDecoder", func(b *testing.B) {
				b.SetBytes(int64(8 * len(tc.v)))
				var d deltaDecoder
				var dst []int64
				for b.Loop() {
					dst, _ = d.decodeInt64(dst, src, len(tc.v))
				}
			})
		})
	}
}
