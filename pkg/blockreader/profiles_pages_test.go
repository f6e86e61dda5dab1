package blockreader

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding/delta"
	"github.com/parquet-go/parquet-go/encoding/rle"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// levelEntry is one entry of a repeated column: its levels and, when
// def == maxDef, its value.
type levelEntry struct {
	rep, def byte
	value    int64
}

// buildV1Chunk encodes entries as data pages v1 cut before the entries at
// cuts, which need not start rows: nothing but the offset index forbids a
// writer to split a row between pages.
// With strings, values are written as PLAIN byte arrays of their decimal
// form, else as DELTA_BINARY_PACKED INT64.
func buildV1Chunk(tb testing.TB, entries []levelEntry, cuts []int, maxDef byte, strings bool) []byte {
	tb.Helper()
	var chunk []byte
	bounds := append(append([]int{0}, cuts...), len(entries))
	for i := 1; i < len(bounds); i++ {
		page := entries[bounds[i-1]:bounds[i]]
		var reps, defs []byte
		var values []int64
		for _, e := range page {
			reps, defs = append(reps, e.rep), append(defs, e.def)
			if e.def == maxDef {
				values = append(values, e.value)
			}
		}
		var body []byte
		for _, l := range []struct {
			levels []byte
			max    byte
		}{{reps, 1}, {defs, maxDef}} {
			enc := rle.Encoding{BitWidth: bits.Len8(l.max)}
			b, err := enc.EncodeLevels(nil, l.levels)
			if err != nil {
				tb.Fatal(err)
			}
			body = binary.LittleEndian.AppendUint32(body, uint32(len(b)))
			body = append(body, b...)
		}
		valueEncoding := format.DeltaBinaryPacked
		var b []byte // encoders overwrite what they are given
		var err error
		if strings {
			valueEncoding = format.Plain
			var data []byte
			offsets := []uint32{0}
			for _, v := range values {
				data = strconv.AppendInt(data, v, 10)
				offsets = append(offsets, uint32(len(data)))
			}
			b, err = parquet.LookupEncoding(format.Plain).EncodeByteArray(nil, data, offsets)
		} else {
			var enc delta.BinaryPackedEncoding
			b, err = enc.EncodeInt64(nil, values)
		}
		if err != nil {
			tb.Fatal(err)
		}
		body = append(body, b...)
		hdr := format.PageHeader{
			Type:                 format.DataPage,
			UncompressedPageSize: int32(len(body)),
			CompressedPageSize:   int32(len(body)),
			DataPageHeader: thrift.Null[format.DataPageHeader]{Valid: true, V: format.DataPageHeader{
				NumValues:               int32(len(page)),
				Encoding:                valueEncoding,
				DefinitionLevelEncoding: format.RLE,
				RepetitionLevelEncoding: format.RLE,
			}},
		}
		h, err := marshalThrift(&hdr)
		if err != nil {
			tb.Fatal(err)
		}
		chunk = append(append(chunk, h...), body...)
	}
	return chunk
}

// TestColumnCursorRowsAcrossPages reads a repeated column whose rows run
// over page boundaries, with empty rows and null elements.
func TestColumnCursorRowsAcrossPages(t *testing.T) {
	for _, maxDef := range []byte{1, 2} { // 2: optional elements, like SpanID
		rng := rand.New(rand.NewPCG(uint64(maxDef), 3))
		var rows [][]int64
		var entries []levelEntry
		for r := range 300 {
			n := rng.IntN(40)
			if r%50 == 7 {
				n = 400 // a row longer than several pages
			}
			if n == 0 {
				entries = append(entries, levelEntry{rep: 0, def: 0})
			}
			var row []int64
			for k := range n {
				e := levelEntry{rep: 1, def: maxDef, value: rng.Int64N(1 << 30)}
				if k == 0 {
					e.rep = 0
				}
				if maxDef == 2 && rng.IntN(4) == 0 {
					e.def, e.value = 1, 0 // a null element reads as 0
				}
				entries, row = append(entries, e), append(row, e.value)
			}
			rows = append(rows, row)
		}
		var cuts []int
		for i := 1 + rng.IntN(60); i < len(entries); i += 1 + rng.IntN(120) {
			cuts = append(cuts, i)
		}
		for _, strings := range []bool{false, true} {
			file := append([]byte("PAR1"), buildV1Chunk(t, entries, cuts, maxDef, strings)...)
			p := &ProfilesReader{r: bytes.NewReader(file), size: int64(len(file)), maxEntries: 1 << 20}
			rg := &rowGroupInfo{numRows: int64(len(rows))}
			role, typ := colSpanID, format.Int64
			if strings {
				role, typ = colAnnotationKey, format.ByteArray
			}
			rg.chunks[role] = chunkInfo{meta: &format.ColumnMetaData{}, start: 4, end: int64(len(file))}
			col := &leafColumn{role: role, typ: typ, maxRep: 1, maxDef: maxDef, repDef: 1}
			for _, step := range []int{1, 2, 7, 100} {
				c := &columnCursor{p: p, col: col, ctx: context.Background()}
				c.reset(rg, []rowRange{{0, rg.numRows}})
				for r := 0; r < len(rows); r += step {
					var got []int64
					var err error
					if strings {
						got, err = readDecimalStrings(c, int64(r))
					} else {
						got, err = c.int64sAt(int64(r))
					}
					if err != nil {
						t.Fatalf("max definition level %d, strings %t, every %d rows: row %d: %v", maxDef, strings, step, r, err)
					}
					if !slices.Equal(got, rows[r]) {
						t.Fatalf("max definition level %d, strings %t, every %d rows: row %d: %v, want %v", maxDef, strings, step, r, got, rows[r])
					}
				}
			}
		}
	}
}

// readDecimalStrings reads a row with bytesAt and parses its elements; a
// null element is empty and reads as 0.
func readDecimalStrings(c *columnCursor, row int64) ([]int64, error) {
	data, offsets, err := c.bytesAt(row)
	if err != nil {
		return nil, err
	}
	var got []int64
	for k := 1; k < len(offsets); k++ {
		s := string(data[offsets[k-1]:offsets[k]])
		v, err := strconv.ParseInt(cmp.Or(s, "0"), 10, 64)
		if err != nil {
			return nil, err
		}
		got = append(got, v)
	}
	return got, nil
}
