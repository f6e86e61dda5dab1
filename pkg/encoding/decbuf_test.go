package encoding

import (
	"encoding/binary"
	"errors"
	"math"
	"testing"
)

// errAny stands for "any error" in the tables of this package.
var errAny = errors.New("any error")

func TestDecbuf(t *testing.T) {
	tests := []struct {
		name    string
		data    []byte
		read    func(d *Decbuf) any
		want    any
		wantErr error // nil: no error; errAny: any error
		left    int
	}{
		{"byte", []byte{7, 8}, func(d *Decbuf) any { return d.Byte() }, byte(7), nil, 1},
		{"byte empty", nil, func(d *Decbuf) any { return d.Byte() }, byte(0), ErrShortData, 0},
		{"be16", []byte{1, 2, 3}, func(d *Decbuf) any { return d.Be16() }, uint16(0x0102), nil, 1},
		{"be16 short", []byte{1}, func(d *Decbuf) any { return d.Be16() }, uint16(0), ErrShortData, 1},
		{"be32", []byte{1, 2, 3, 4, 5}, func(d *Decbuf) any { return d.Be32() }, uint32(0x01020304), nil, 1},
		{"be32 short", []byte{1, 2, 3}, func(d *Decbuf) any { return d.Be32() }, uint32(0), ErrShortData, 3},
		{"be64", []byte{0, 0, 0, 0, 0, 0, 1, 0}, func(d *Decbuf) any { return d.Be64() }, uint64(256), nil, 0},
		{"be64 short", []byte{1}, func(d *Decbuf) any { return d.Be64() }, uint64(0), ErrShortData, 1},
		{"uvarint one byte", []byte{0x7f, 9}, func(d *Decbuf) any { return d.Uvarint64() }, uint64(127), nil, 1},
		{"uvarint two bytes", []byte{0x80, 0x01}, func(d *Decbuf) any { return d.Uvarint64() }, uint64(128), nil, 0},
		{"uvarint max", binary.AppendUvarint(nil, math.MaxUint64), func(d *Decbuf) any { return d.Uvarint64() }, uint64(math.MaxUint64), nil, 0},
		{"uvarint empty", nil, func(d *Decbuf) any { return d.Uvarint64() }, uint64(0), ErrShortData, 0},
		{"uvarint cut", []byte{0x80, 0x80}, func(d *Decbuf) any { return d.Uvarint64() }, uint64(0), ErrShortData, 2},
		{"uvarint overflow", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, func(d *Decbuf) any { return d.Uvarint64() }, uint64(0), ErrVarint, 11},
		{"varint", binary.AppendVarint(nil, -5), func(d *Decbuf) any { return d.Varint64() }, int64(-5), nil, 0},
		{"varint min", binary.AppendVarint(nil, math.MinInt64), func(d *Decbuf) any { return d.Varint64() }, int64(math.MinInt64), nil, 0},
		{"varint empty", nil, func(d *Decbuf) any { return d.Varint64() }, int64(0), ErrShortData, 0},
		{"varint overflow", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, func(d *Decbuf) any { return d.Varint64() }, int64(0), ErrVarint, 11},
		{"uvarintInt", []byte{0x80, 0x01}, func(d *Decbuf) any { return d.Uvarint() }, 128, nil, 0},
		{"uvarintInt too big", binary.AppendUvarint(nil, math.MaxUint64), func(d *Decbuf) any { return d.Uvarint() }, 0, errAny, 0},
		{"bytes", []byte{1, 2, 3}, func(d *Decbuf) any { return len(d.Bytes(2)) }, 2, nil, 1},
		{"bytes negative", []byte{1}, func(d *Decbuf) any { return len(d.Bytes(-1)) }, 0, ErrShortData, 1},
		{"bytes too many", []byte{1}, func(d *Decbuf) any { return len(d.Bytes(2)) }, 0, ErrShortData, 1},
		{"skip", []byte{1, 2, 3}, func(d *Decbuf) any { d.Skip(2); return d.Byte() }, byte(3), nil, 0},
		{"skip too many", []byte{1, 2, 3}, func(d *Decbuf) any { d.Skip(4); return d.Byte() }, byte(0), ErrShortData, 3},
		{"uvstr", []byte{2, 'h', 'i', 0}, func(d *Decbuf) any { return string(d.UvarintBytes()) }, "hi", nil, 1},
		{"uvstr too long", []byte{5, 'h', 'i'}, func(d *Decbuf) any { return string(d.UvarintBytes()) }, "", ErrShortData, 2},
		{"uvstr huge", binary.AppendUvarint(nil, math.MaxUint64), func(d *Decbuf) any { return string(d.UvarintBytes()) }, "", ErrShortData, 0},
		{"count", []byte{0, 0, 0, 2, 1, 2, 3, 4}, func(d *Decbuf) any { return d.Count(4) }, 0, errAny, 4},
		{"count fits", []byte{0, 0, 0, 2, 1, 2, 3, 4}, func(d *Decbuf) any { return d.Count(2) }, 2, nil, 4},
		{"sticky", []byte{1, 2}, func(d *Decbuf) any { d.Be32(); return d.Uvarint64() }, uint64(0), ErrShortData, 2},
		{"fail keeps the first error", []byte{1}, func(d *Decbuf) any { d.Be16(); d.Fail(errAny); return d.Byte() }, byte(0), ErrShortData, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Decbuf{B: tt.data}
			got := tt.read(&d)
			if got != tt.want {
				t.Errorf("got %v (%T), want %v (%T)", got, got, tt.want, tt.want)
			}
			switch {
			case tt.wantErr == nil && d.Err() != nil:
				t.Errorf("error %v", d.Err())
			case tt.wantErr == errAny && d.Err() == nil, tt.wantErr != nil && tt.wantErr != errAny && !errors.Is(d.Err(), tt.wantErr):
				t.Errorf("error %v, want %v", d.Err(), tt.wantErr)
			}
			if d.Len() != tt.left {
				t.Errorf("%d bytes left, want %d", d.Len(), tt.left)
			}
		})
	}
}
