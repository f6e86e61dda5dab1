package encoding

import (
	"encoding/binary"
	"errors"
	"testing"
)

// crcSection returns a file of two bytes of padding followed by content
// framed as a CRC section: its length (BE32, or a uvarint when uvarintLen),
// the content and its CRC32C.
func crcSection(content []byte, uvarintLen bool) []byte {
	b := []byte{9, 9}
	if uvarintLen {
		b = binary.AppendUvarint(b, uint64(len(content)))
	} else {
		b = binary.BigEndian.AppendUint32(b, uint32(len(content)))
	}
	b = append(b, content...)
	return binary.BigEndian.AppendUint32(b, CRC32C(content))
}

func TestReadCRCSection(t *testing.T) {
	content := []byte("content")
	file := crcSection(content, false) // the section at offset 2
	uvSection := crcSection(content, true)

	tests := []struct {
		name       string
		read       func(b []byte, off, limit int) ([]byte, int, error)
		b          []byte
		off, limit int
		wantErr    error // nil: no error; errAny: any error
	}{
		{"ok", ReadCRCSection, file, 2, len(file), nil},
		{"limit cuts CRC", ReadCRCSection, file, 2, len(file) - 1, ErrShortData},
		{"limit past data", ReadCRCSection, file, 2, len(file) + 1, ErrShortData},
		{"negative offset", ReadCRCSection, file, -1, len(file), ErrShortData},
		{"offset past limit", ReadCRCSection, file, 5, 4, ErrShortData},
		{"bad CRC", ReadCRCSection, append(file[:len(file)-1:len(file)-1], file[len(file)-1]^1), 2, len(file), ErrChecksum},
		{"uvarint ok", ReadUvarintCRCSection, uvSection, 2, len(uvSection), nil},
		{"uvarint limit cuts CRC", ReadUvarintCRCSection, uvSection, 2, len(uvSection) - 2, ErrShortData},
		{"uvarint at limit", ReadUvarintCRCSection, uvSection, len(uvSection), len(uvSection), ErrShortData},
		{"uvarint bad length", ReadUvarintCRCSection, []byte{0x80, 0x80, 0x80}, 0, 3, ErrShortData},
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

func TestVerifyCRC32C(t *testing.T) {
	b := []byte("123456789")
	const check = 0xe3069283 // the CRC-32C check value of "123456789"
	if got := CRC32C(b); got != check {
		t.Fatalf("CRC32C = %08x, want %08x", got, check)
	}
	if err := VerifyCRC32C(b, check); err != nil {
		t.Fatal(err)
	}
	err := VerifyCRC32C(b, check^1)
	if !errors.Is(err, ErrChecksum) {
		t.Fatalf("error %v, want %v", err, ErrChecksum)
	}
	if want := "bad CRC32C: stored e3069282, computed e3069283"; err.Error() != want {
		t.Fatalf("error %q, want %q", err, want)
	}
}

// FuzzReadCRCSection checks that a section reader either fails or returns
// content that lies inside b[off:limit], followed by its CRC.
func FuzzReadCRCSection(f *testing.F) {
	f.Add(crcSection([]byte("content"), false), 2, 100, false)
	f.Add(crcSection([]byte("content"), true), 2, 100, true)
	f.Add(crcSection(nil, true), 2, 7, true)
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}, 0, 8, false)
	f.Fuzz(func(t *testing.T, b []byte, off, limit int, uvarintLen bool) {
		limit = min(limit, len(b))
		read := ReadCRCSection
		if uvarintLen {
			read = ReadUvarintCRCSection
		}
		content, next, err := read(b, off, limit)
		if err != nil {
			return
		}
		if next > limit || next-4-len(content) <= off {
			t.Fatalf("content of %d bytes ending at %d, section [%d, %d)", len(content), next, off, limit)
		}
		if VerifyCRC32C(content, binary.BigEndian.Uint32(b[next-4:])) != nil {
			t.Fatal("CRC does not match")
		}
	})
}
