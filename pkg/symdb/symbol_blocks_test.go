package symdb

import (
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestStringsTable(t *testing.T) {
	long := strings.Repeat("x", 300)
	s := []string{"", "a", long, "bc", "", "def"}
	for _, bs := range []int{1, 2, 4, 1024} {
		data, h := encodeStrings(s, bs)
		got, err := decodeStringsTable(h, data, true)
		if err != nil || !slices.Equal(got, s) {
			t.Fatalf("block size %d: %q, %v", bs, got, err)
		}
	}
	// The sample's strings blocks carry garbage in byte 4; it is ignored
	// but covered by the header CRC.
	data, h := encodeStrings(s, 1024)
	data[4] = 0x5a
	if _, err := decodeStringsTable(h, data, true); !errors.Is(err, ErrChecksum) {
		t.Errorf("changed byte 4: %v, want a header CRC error", err)
	}
	if got, err := decodeStringsTable(h, data, false); err != nil || !slices.Equal(got, s) {
		t.Errorf("byte 4 is not ignored: %v", err)
	}
}

func TestLocationsTable(t *testing.T) {
	locs := []Location{
		{MappingID: 0, Address: 0x1000, Lines: []Line{{FunctionID: 3, Line: 10}, {FunctionID: 4, Line: -1}}},
		{MappingID: 2, Address: 0x2000, IsFolded: true},
		{MappingID: 1, Lines: []Line{{FunctionID: 0, Line: 1}}},
		{MappingID: 1, Lines: []Line{{FunctionID: 1, Line: 2}}},
	}
	data, h := encodeLocations(locs, 1024)
	got, err := decodeLocationsTable(h, data, true)
	if err != nil {
		t.Fatal(err)
	}
	for i := range locs {
		if got[i].MappingID != locs[i].MappingID || got[i].Address != locs[i].Address || got[i].IsFolded != locs[i].IsFolded || !slices.Equal(got[i].Lines, locs[i].Lines) {
			t.Errorf("location %d: %+v, want %+v", i, got[i], locs[i])
		}
	}

	t.Run("folded mask quirk", func(t *testing.T) {
		// The writer masks bit i with 7: only locations 0-2 of a block can
		// be marked folded, and the decoder must read it the same way.
		ls := make([]Location, 10)
		ls[1].IsFolded, ls[5].IsFolded = true, true
		data, h := encodeLocations(ls, 1024)
		got, err := decodeLocationsTable(h, data, true)
		if err != nil {
			t.Fatal(err)
		}
		for i, l := range got {
			if l.IsFolded != (i == 1) {
				t.Errorf("location %d folded = %v", i, l.IsFolded)
			}
		}
	})
}

func TestFunctionsAndMappingsTables(t *testing.T) {
	fns := []Function{{Name: 1, SystemName: 2, Filename: 3, StartLine: 40}, {Name: 5, StartLine: 0}, {Name: 1 << 20, Filename: 7, StartLine: 1 << 30}}
	data, h := encodeFunctions(fns, 2)
	if got, err := decodeFunctionsTable(h, data, true); err != nil || !slices.Equal(got, fns) {
		t.Errorf("functions: %v, %v", got, err)
	}
	maps := []Mapping{
		{Filename: 1, BuildID: 2, HasFunctions: true},
		{MemoryStart: 0x400000, MemoryLimit: 0x800000, FileOffset: 0x1000, Filename: 3, HasFilenames: true, HasLineNumbers: true, HasInlineFrames: true},
	}
	data, h = encodeMappings(maps, 1024)
	if got, err := decodeMappingsTable(h, data, true); err != nil || !slices.Equal(got, maps) {
		t.Errorf("mappings: %v, %v", got, err)
	}
	// Without addresses the optional columns are absent.
	data, h = encodeMappings(maps[:1], 1024)
	if got, err := decodeMappingsTable(h, data, true); err != nil || !slices.Equal(got, maps[:1]) {
		t.Errorf("mappings without addresses: %v, %v", got, err)
	}
}

func TestSymbolBlocksErrors(t *testing.T) {
	strs, strsH := encodeStrings([]string{"", "ab", "c"}, 2)
	locs, locsH := encodeLocations([]Location{{Lines: []Line{{FunctionID: 1}}}, {}}, 1024)
	decodeS := func(h symbolsBlockHeader, d []byte) error { _, err := decodeStringsTable(h, d, true); return err }
	decodeL := func(h symbolsBlockHeader, d []byte) error { _, err := decodeLocationsTable(h, d, true); return err }
	cases := []struct {
		name   string
		decode func(symbolsBlockHeader, []byte) error
		h      symbolsBlockHeader
		data   []byte
		edit   func(h *symbolsBlockHeader, d []byte) []byte
		want   string
	}{
		{"wrong format", decodeS, strsH, strs, func(h *symbolsBlockHeader, d []byte) []byte { h.format = 1; return d }, "block format 1, want 4"},
		{"size mismatch", decodeS, strsH, strs, func(h *symbolsBlockHeader, d []byte) []byte { return d[:len(d)-1] }, "header says"},
		{"zero block size", decodeS, strsH, strs, func(h *symbolsBlockHeader, d []byte) []byte { h.blockSize = 0; return d }, "blocks of 0"},
		{"length past the data", decodeS, strsH, strs, func(h *symbolsBlockHeader, d []byte) []byte { h.length = 1 << 30; return d }, "cannot fit"},
		{"count mismatch", decodeS, strsH, strs, func(h *symbolsBlockHeader, d []byte) []byte { h.blockSize = 3; return d }, "block holds 2 items, want 3"},
		{"header CRC", decodeS, strsH, strs, func(h *symbolsBlockHeader, d []byte) []byte { d[0] ^= 1; return d }, "bad CRC32C"},
		{"width", decodeS, strsH, strs, func(h *symbolsBlockHeader, d []byte) []byte { d[5] = 9; fixHeaderCRC(d, 12, 8); return d }, "length width 9"},
		{"string past the end", decodeS, strsH, strs, func(h *symbolsBlockHeader, d []byte) []byte { d[12] = 200; return d }, "string 0 of 200 bytes"},
		{"fewer items than bytes", decodeS, strsH, strs, func(h *symbolsBlockHeader, d []byte) []byte { h.length = 2; return d }, "bytes left"},
		{"line counts", decodeL, locsH, locs, func(h *symbolsBlockHeader, d []byte) []byte {
			binary.BigEndian.PutUint32(d[8:], 2) // LinesLen
			fixHeaderCRC(d, 28, 24)
			return d
		}, "line counts add up to 1, header says 2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := c.h
			d := c.edit(&h, slices.Clone(c.data))
			err := c.decode(h, d)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want %q", err, c.want)
			}
		})
	}
}

// fixHeaderCRC recomputes the CRC of a block header of size n at the start
// of d, stored at crcOff.
func fixHeaderCRC(d []byte, n, crcOff int) {
	binary.BigEndian.PutUint32(d[crcOff:], crc(d[:n-4]))
}
