package symdb

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
)

func TestDecodeDeltaSpecExample(t *testing.T) {
	// block-format.md §9.6: [10, 11, 12] as parquet-go writes it.
	data := append([]byte{0x80, 0x01, 0x04, 0x03, 0x14, 0x17, 0x04, 0x00, 0x00, 0x00, 0xdd}, make([]byte, 15)...)
	if enc := deltaInt32s([]int32{10, 11, 12}); !slices.Equal(enc, data) {
		t.Fatalf("parquet-go wrote % x, the spec says % x", enc, data)
	}
	got, err := decodeDelta(nil, data, 3)
	if err != nil || !slices.Equal(got, []int64{10, 11, 12}) {
		t.Fatalf("got %v, %v", got, err)
	}
}

func TestDecodeDeltaRoundTrip(t *testing.T) {
	rng := newRand(2)
	gen := map[string]func(i int) int64{
		"zeros":      func(int) int64 { return 0 },
		"ascending":  func(i int) int64 { return int64(i) },
		"small":      func(int) int64 { return int64(rng.IntN(100)) },
		"wide":       func(int) int64 { return rng.Int64() },
		"extremes":   func(i int) int64 { return []int64{math.MinInt64, math.MaxInt64, 0, -1}[i%4] },
		"descending": func(i int) int64 { return int64(1000 - 3*i) },
	}
	for name, g := range gen {
		for _, n := range []int{0, 1, 2, 3, 31, 32, 33, 127, 128, 129, 1000, 4096} {
			v := make([]int64, n)
			for i := range v {
				v[i] = g(i)
			}
			got, err := decodeDelta(nil, deltaInt64s(v), n)
			if err != nil || !slices.Equal(got, v) {
				t.Fatalf("%s n=%d int64: %v (%v)", name, n, err, firstDiff(got, v))
			}
			v32 := make([]int32, n)
			for i := range v32 {
				v32[i] = int32(v[i])
			}
			got, err = decodeDelta(got, deltaInt32s(v32), n)
			if err != nil {
				t.Fatalf("%s n=%d int32: %v", name, n, err)
			}
			for i := range v32 {
				if int32(got[i]) != v32[i] {
					t.Fatalf("%s n=%d int32: value %d is %d, want %d", name, n, i, int32(got[i]), v32[i])
				}
			}
		}
	}
}

func firstDiff(got, want []int64) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("value %d is %d, want %d", i, got[i], want[i])
		}
	}
	return fmt.Sprintf("%d values, want %d", len(got), len(want))
}

func TestDecodeDeltaErrors(t *testing.T) {
	good := deltaInt64s([]int64{1, 5, 9, 100, -4})
	cases := []struct {
		name string
		data []byte
		n    int
		want string
	}{
		{"empty", nil, 1, "delta header"},
		{"wrong count", good, 4, "5 values instead of 4"},
		{"block size zero", []byte{0x00, 0x04, 0x01, 0x02}, 1, "block size 0"},
		{"block size not a multiple of 128", []byte{0x40, 0x04, 0x01, 0x02}, 1, "block size 64"},
		{"mini-block of 20 values", []byte{0x80, 0x01, 0x05, 0x01, 0x02}, 1, "5 mini-blocks"},
		{"truncated block", good[:len(good)-1], 5, "unexpected end of data"},
		{"no block", good[:4], 5, "unexpected end of data"},
		{"width above 64", []byte{0x80, 0x01, 0x04, 0x02, 0x02, 0x00, 0x41, 0x00, 0x00, 0x00}, 2, "bit width 65"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := decodeDelta(nil, c.data, c.n)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want %q", err, c.want)
			}
		})
	}
	if v, err := decodeDelta(nil, nil, 0); err != nil || len(v) != 0 {
		t.Errorf("an absent column of no values: %v %v", v, err)
	}
}
