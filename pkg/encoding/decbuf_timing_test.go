package encoding

import (
	"encoding/binary"
	"testing"
)

// BenchmarkDecbuf measures the getters the index and symbol decoders spend
// their time in: mostly one-byte uvarints, some longer ones and BE32s.
func BenchmarkDecbuf(b *testing.B) {
	var buf []byte
	for i := range 4096 {
		buf = binary.AppendUvarint(buf, uint64(i%200))
		buf = binary.BigEndian.AppendUint32(buf, uint32(i))
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		d := Decbuf{B: buf}
		var sum uint64
		for d.Len() > 0 {
			sum += d.Uvarint64() + uint64(d.Be32())
		}
		if d.Err() != nil || sum == 0 {
			b.Fatal(d.Err())
		}
	}
}
