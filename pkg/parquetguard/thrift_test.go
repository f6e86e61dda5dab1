package parquetguard

import (
	"errors"
	"testing"

	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

func marshal(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := thrift.Marshal(new(thrift.CompactProtocol), v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// testFooter returns the footer of a small parquet file: a schema, a row
// group with one column chunk and a key-value pair, so that lists, nested
// structs, binaries and integers all occur.
func testFooter(tb testing.TB) []byte {
	return marshal(tb, &format.FileMetaData{
		Version: 1,
		Schema: []format.SchemaElement{
			{Name: "schema", NumChildren: thrift.New[int32](1)},
			{Name: "ID", Type: thrift.New(format.Int64)},
		},
		NumRows: 3,
		RowGroups: []format.RowGroup{{
			Columns: []format.ColumnChunk{{MetaData: format.ColumnMetaData{
				Type:           format.Int64,
				Encoding:       []format.Encoding{format.Plain},
				PathInSchema:   []string{"ID"},
				NumValues:      3,
				DataPageOffset: 4,
				Statistics:     format.Statistics{MinValue: []byte{1}, MaxValue: []byte{3}},
			}}},
			NumRows: 3,
		}},
		KeyValueMetadata: []format.KeyValue{{Key: "k", Value: "v"}},
		CreatedBy:        "cinder",
	})
}

// nested returns a struct whose field 1 is a struct, depth times over.
func nested(depth int) []byte {
	var b []byte
	for range depth {
		b = append(b, 0x1c) // field 1, struct
	}
	b = append(b, 0) // the innermost struct is empty
	for range depth {
		b = append(b, 0)
	}
	return b
}

func TestStructLen(t *testing.T) {
	footer := testFooter(t)
	tests := []struct {
		name    string
		data    []byte
		want    int   // the struct's length, when wantErr is nil
		wantErr error // nil: no error
	}{
		{"footer", footer, len(footer), nil},
		{"footer and more", append(footer[:len(footer):len(footer)], 1, 2, 3), len(footer), nil},
		{"footer cut", footer[:len(footer)-1], 0, ErrShort},
		{"empty", nil, 0, ErrShort},
		{"empty struct", []byte{0}, 1, nil},
		{"bool fields take no byte", []byte{0x11, 0x12, 0}, 3, nil},
		{"long-form field id", []byte{0x05, 0x80, 0x01, 0x02, 0}, 5, nil},
		{"uuid field", append(append([]byte{0x1d}, make([]byte, 16)...), 0), 18, nil},
		{"uuid field cut", append([]byte{0x1d}, make([]byte, 15)...), 0, ErrShort},
		{"double field", []byte{0x17, 1, 2, 3, 4, 5, 6, 7, 8, 0}, 10, nil},
		{"binary past the end", []byte{0x18, 0x05, 'a', 'b'}, 0, ErrShort},
		{"list of bools takes a byte each", []byte{0x19, 0x21, 1, 0, 0}, 5, nil},
		{"list longer than the bytes", []byte{0x19, 0xf5, 0xff, 0xff, 0xff, 0x0f, 0x00}, 0, ErrShort},
		{"list of 2^63 maps", []byte{0x19, 0xfb, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0}, 0, ErrShort},
		{"map", []byte{0x1b, 0x01, 0x55, 0x02, 0x04, 0}, 6, nil},
		{"empty map", []byte{0x1b, 0x00, 0}, 3, nil},
		{"map of 2^63 entries", []byte{0x1b, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0x55, 0}, 0, ErrShort},
		{"varint overflow", []byte{0x15, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0}, 0, ErrMalformed},
		{"unknown type", []byte{0x1e, 0}, 0, ErrMalformed},
		{"stop as list element", []byte{0x19, 0x10, 0}, 0, ErrMalformed},
		{"nested to the limit", nested(MaxDepth), 2*MaxDepth + 1, nil},
		{"nested too deep", nested(MaxDepth + 1), 0, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := StructLen(tt.data)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("error %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if n != tt.want {
				t.Fatalf("length %d, want %d", n, tt.want)
			}
		})
	}
}

func TestUnmarshal(t *testing.T) {
	footer := testFooter(t)
	var meta format.FileMetaData
	if err := Unmarshal(footer, &meta); err != nil {
		t.Fatal(err)
	}
	if meta.NumRows != 3 || len(meta.Schema) != 2 || meta.CreatedBy != "cinder" {
		t.Fatalf("decoded %+v", meta)
	}
	if err := Unmarshal(append(footer[:len(footer):len(footer)], 0), &meta); !errors.Is(err, ErrMalformed) {
		t.Fatalf("trailing byte: error %v, want %v", err, ErrMalformed)
	}
	if err := Unmarshal(footer[:len(footer)-1], &meta); !errors.Is(err, ErrShort) {
		t.Fatalf("cut footer: error %v, want %v", err, ErrShort)
	}
}

// FuzzStructLen checks that a struct that passes lies inside its bytes and
// that parquet-go then decodes it as a footer or page header without
// panicking.
func FuzzStructLen(f *testing.F) {
	f.Add([]byte{0x15, 0x04, 0x15, 0x10, 0x15, 0x10, 0x2c, 0x15, 0x02, 0x00, 0x00})
	f.Add([]byte{0x19, 0xfc, 0xff, 0xff, 0xff, 0x0f, 0x00})
	f.Add(testFooter(f))
	f.Add(nested(MaxDepth + 1))
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := StructLen(data)
		if err != nil {
			return
		}
		if n <= 0 || n > len(data) {
			t.Fatalf("struct of %d bytes in %d", n, len(data))
		}
		var meta format.FileMetaData
		_ = Unmarshal(data[:n], &meta)
		var h format.PageHeader
		_ = Unmarshal(data[:n], &h)
	})
}
