package symdb

import (
	"slices"
	"testing"

	"github.com/parquet-go/parquet-go/encoding/rle"
)

// encodeDictionaryIndexes encodes entry numbers as parquet-go writes an
// RLE_DICTIONARY page.
func encodeDictionaryIndexes(tb testing.TB, v []int32) []byte {
	tb.Helper()
	var enc rle.DictionaryEncoding
	b, err := enc.EncodeInt32(nil, v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestAppendDictionaryIndexes(t *testing.T) {
	rng := newRand(31)
	random := func(n int, below int32) []int32 {
		v := make([]int32, n)
		for i := range v {
			v[i] = rng.Int32N(below)
		}
		return v
	}
	runs := make([]int32, 0, 300)
	for i := range 300 {
		runs = append(runs, int32(i/40)) // runs of 40, across groups of 8
	}
	cases := []struct {
		name string
		v    []int32
	}{
		{"zero width", make([]int32, 100)},
		{"one bit", random(77, 2)},
		{"bit-packed", random(1000, 27767)},
		{"runs", runs},
		{"runs and bit-packed", append(append(random(13, 500), runs...), random(21, 1<<20)...)},
		{"32 bits", []int32{1<<31 - 1, 0, 5, 1<<31 - 1, 1 << 30, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 1}},
		{"fewer than a group", []int32{3, 1, 2}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			page := encodeDictionaryIndexes(t, c.v)
			want := make([]uint32, len(c.v))
			for i, x := range c.v {
				want[i] = uint32(x)
			}
			for _, w := range [][2]int{{0, len(want)}, {1, len(want) - 1}, {len(want) / 3, len(want) / 3}, {len(want) - 1, 1}, {len(want), 0}, {7, 9}} {
				skip, n := min(w[0], len(want)), w[1]
				if skip+n > len(want) {
					continue
				}
				got, err := appendDictionaryIndexes([]uint32{42}, page, skip, n)
				if err != nil {
					t.Fatalf("skip %d, n %d: %v", skip, n, err)
				}
				if !slices.Equal(got[1:], want[skip:skip+n]) || got[0] != 42 {
					t.Fatalf("skip %d, n %d: got %v, want %v after 42", skip, n, got, want[skip:skip+n])
				}
			}
			if _, err := appendDictionaryIndexes(nil, page, 0, len(want)+8); err == nil {
				t.Error("decoded more values than the page holds")
			}
		})
	}

	bad := []struct {
		name string
		page []byte
	}{
		{"empty", nil},
		{"bit width 33", []byte{33, 2, 1, 0, 0, 0, 0}},
		{"header cut short", []byte{8, 0x80}},
		{"header overflows", append([]byte{8}, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)},
		{"run value cut short", []byte{16, 4, 1}},
		{"bit-packed group cut short", []byte{8, 3, 1, 2, 3}},
		{"huge bit-packed run", []byte{8, 0xff, 0xff, 0xff, 0xff, 0x0f, 1}},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			if got, err := appendDictionaryIndexes(nil, c.page, 0, 4); err == nil {
				t.Errorf("decoded %v", got)
			}
		})
	}
}

// FuzzDictionaryIndexes checks the run decoder against a plain one that
// reads the runs bit by bit, and that it never returns more than asked.
// (parquet-go's decoder is no reference here: it expands every run whole,
// gigabytes for a header of a few bytes.)
func FuzzDictionaryIndexes(f *testing.F) {
	f.Add(encodeDictionaryIndexes(f, []int32{0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3}), uint16(2), uint16(9))
	f.Add(encodeDictionaryIndexes(f, []int32{5, 900, 3, 77, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2}), uint16(0), uint16(17))
	f.Add(encodeDictionaryIndexes(f, make([]int32, 40)), uint16(30), uint16(10))
	f.Add([]byte{}, uint16(162), uint16(0))
	f.Fuzz(func(t *testing.T, page []byte, skip, n uint16) {
		got, err := appendDictionaryIndexes(nil, page, int(skip), int(n))
		if n == 0 { // nothing to read, and nothing read
			if err != nil || len(got) != 0 {
				t.Fatalf("no values asked for: %v, %v", got, err)
			}
			return
		}
		want, wantErr := bitByBitIndexes(page, int(skip)+int(n))
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("error %v, bit by bit %v", err, wantErr)
		}
		if err != nil {
			return
		}
		if len(got) != int(n) || !slices.Equal(got, want[skip:]) {
			t.Fatalf("skip %d, n %d: %v, bit by bit %v", skip, n, got, want[skip:])
		}
	})
}

// bitByBitIndexes decodes the first n values of an RLE_DICTIONARY page,
// one bit at a time.
func bitByBitIndexes(page []byte, n int) ([]uint32, error) {
	if n == 0 {
		return nil, nil
	}
	if len(page) == 0 || page[0] > 32 {
		return nil, errShortRuns
	}
	width, pos := int(page[0]), 1
	var out []uint32
	for len(out) < n {
		var header uint64
		for shift := 0; ; shift += 7 {
			if pos >= len(page) || shift > 63 {
				return nil, errShortRuns
			}
			b := page[pos]
			pos++
			if shift == 63 && b > 1 {
				return nil, errShortRuns
			}
			header |= uint64(b&0x7f) << shift
			if b < 0x80 {
				break
			}
		}
		if header&1 == 0 {
			size := (width + 7) / 8
			if len(page)-pos < size {
				return nil, errShortRuns
			}
			var v uint32
			for i := range size {
				v |= uint32(page[pos+i]) << (8 * i)
			}
			pos += size
			for c := header >> 1; c > 0 && len(out) < n; c-- {
				out = append(out, v)
			}
			continue
		}
		groups := header >> 1
		if width > 0 && groups*uint64(width) > uint64(len(page)-pos) {
			return nil, errShortRuns
		}
		bit := pos * 8
		for c := groups * 8; c > 0 && len(out) < n; c-- {
			var v uint32
			for i := range width {
				v |= uint32(page[(bit+i)/8]>>((bit+i)%8)&1) << i
			}
			out = append(out, v)
			bit += width
		}
		pos += int(groups) * width
	}
	return out, nil
}
