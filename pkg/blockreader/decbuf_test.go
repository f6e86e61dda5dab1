package blockreader

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"testing"
)

func TestDecbuf(t *testing.T) {
	tests := []struct {
		name    string
		data    []byte
		read    func(d *decbuf) any
		want    any
		wantErr error // nil: no error; errAny: any error
		left    int
	}{
		{"be32", []byte{1, 2, 3, 4, 5}, func(d *decbuf) any { return d.be32() }, uint32(0x01020304), nil, 1},
		{"be32 short", []byte{1, 2, 3}, func(d *decbuf) any { return d.be32() }, uint32(0), errShortData, 3},
		{"be64", []byte{0, 0, 0, 0, 0, 0, 1, 0}, func(d *decbuf) any { return d.be64() }, uint64(256), nil, 0},
		{"be64 short", []byte{1}, func(d *decbuf) any { return d.be64() }, uint64(0), errShortData, 1},
		{"uvarint one byte", []byte{0x7f, 9}, func(d *decbuf) any { return d.uvarint() }, uint64(127), nil, 1},
		{"uvarint two bytes", []byte{0x80, 0x01}, func(d *decbuf) any { return d.uvarint() }, uint64(128), nil, 0},
		{"uvarint max", binary.AppendUvarint(nil, math.MaxUint64), func(d *decbuf) any { return d.uvarint() }, uint64(math.MaxUint64), nil, 0},
		{"uvarint empty", nil, func(d *decbuf) any { return d.uvarint() }, uint64(0), errShortData, 0},
		{"uvarint cut", []byte{0x80, 0x80}, func(d *decbuf) any { return d.uvarint() }, uint64(0), errShortData, 2},
		{"uvarint overflow", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, func(d *decbuf) any { return d.uvarint() }, uint64(0), errVarint, 11},
		{"varint", binary.AppendVarint(nil, -5), func(d *decbuf) any { return d.varint() }, int64(-5), nil, 0},
		{"varint min", binary.AppendVarint(nil, math.MinInt64), func(d *decbuf) any { return d.varint() }, int64(math.MinInt64), nil, 0},
		{"varint empty", nil, func(d *decbuf) any { return d.varint() }, int64(0), errShortData, 0},
		{"uvarintInt too big", binary.AppendUvarint(nil, math.MaxUint64), func(d *decbuf) any { return d.uvarintInt() }, 0, errAny, 0},
		{"bytes", []byte{1, 2, 3}, func(d *decbuf) any { return len(d.bytes(2)) }, 2, nil, 1},
		{"bytes negative", []byte{1}, func(d *decbuf) any { return len(d.bytes(-1)) }, 0, errShortData, 1},
		{"uvstr", []byte{2, 'h', 'i', 0}, func(d *decbuf) any { return string(d.uvarintBytes()) }, "hi", nil, 1},
		{"uvstr too long", []byte{5, 'h', 'i'}, func(d *decbuf) any { return string(d.uvarintBytes()) }, "", errShortData, 2},
		{"uvstr huge", binary.AppendUvarint(nil, math.MaxUint64), func(d *decbuf) any { return string(d.uvarintBytes()) }, "", errShortData, 0},
		{"count", []byte{0, 0, 0, 2, 1, 2, 3, 4}, func(d *decbuf) any { return d.count(4) }, 0, errAny, 4},
		{"count fits", []byte{0, 0, 0, 2, 1, 2, 3, 4}, func(d *decbuf) any { return d.count(2) }, 2, nil, 4},
		{"sticky", []byte{1, 2}, func(d *decbuf) any { d.be32(); return d.uvarint() }, uint64(0), errShortData, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := decbuf{b: tt.data}
			got := tt.read(&d)
			if got != tt.want {
				t.Errorf("got %v (%T), want %v (%T)", got, got, tt.want, tt.want)
			}
			switch {
			case tt.wantErr == nil && d.err() != nil:
				t.Errorf("error %v", d.err())
			case tt.wantErr == errAny && d.err() == nil, tt.wantErr != nil && tt.wantErr != errAny && !errors.Is(d.err(), tt.wantErr):
				t.Errorf("error %v, want %v", d.err(), tt.wantErr)
			}
			if d.len() != tt.left {
				t.Errorf("%d bytes left, want %d", d.len(), tt.left)
			}
		})
	}
}

var errAny = errors.New("any error")

func TestReadCRCSection(t *testing.T) {
	content := []byte("content")
	section := binary.BigEndian.AppendUint32(nil, uint32(len(content)))
	section = append(section, content...)
	section = binary.BigEndian.AppendUint32(section, crc32.Checksum(content, castagnoli))
	file := append([]byte{9, 9}, section...) // the section at offset 2

	uvSection := append(binary.AppendUvarint([]byte{9, 9}, uint64(len(content))), content...)
	uvSection = binary.BigEndian.AppendUint32(uvSection, crc32.Checksum(content, castagnoli))

	tests := []struct {
		name       string
		read       func(b []byte, off, limit int) ([]byte, int, error)
		b          []byte
		off, limit int
		wantErr    error // nil: no error; errAny: any error
	}{
		{"ok", readCRCSection, file, 2, len(file), nil},
		{"limit cuts CRC", readCRCSection, file, 2, len(file) - 1, errShortData},
		{"limit past data", readCRCSection, file, 2, len(file) + 1, errShortData},
		{"negative offset", readCRCSection, file, -1, len(file), errShortData},
		{"offset past limit", readCRCSection, file, 5, 4, errShortData},
		{"bad CRC", readCRCSection, append(file[:len(file)-1:len(file)-1], file[len(file)-1]^1), 2, len(file), ErrChecksum},
		{"uvarint ok", readUvarintCRCSection, uvSection, 2, len(uvSection), nil},
		{"uvarint limit cuts CRC", readUvarintCRCSection, uvSection, 2, len(uvSection) - 2, errShortData},
		{"uvarint at limit", readUvarintCRCSection, uvSection, len(uvSection), len(uvSection), errShortData},
		{"uvarint bad length", readUvarintCRCSection, []byte{0x80, 0x80, 0x80}, 0, 3, errShortData},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, next, err := tt.read(tt.b, tt.off, tt.limit)
			if tt.wantErr != nil {
				if err == nil || tt.wantErr != errAny && !errors.Is(err, tt.wantErr) {
					t.Fatalf("error %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(content) || next != len(tt.b) {
				t.Fatalf("got %q, next %d; want %q, %d", got, next, content, len(tt.b))
			}
		})
	}
}
