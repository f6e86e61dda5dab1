package blockreader

import (
	"errors"
	"fmt"
	"slices"

	"github.com/parquet-go/bitpack"

	"github.com/cinder-profiling/cinder/pkg/encoding"
)

// maxDeltaBlockSize bounds the values per block of a DELTA_BINARY_PACKED
// stream; writers use 128 (parquet-go) to 1024.
const maxDeltaBlockSize = 1 << 16

// errDeltaBitWidth rejects mini blocks wider than their values, which
// parquet-go decodes into garbage.
var errDeltaBitWidth = errors.New("delta mini block bit width over 64")

// deltaDecoder decodes DELTA_BINARY_PACKED INT64 streams: the encoding of
// every INT64 column of profiles.parquet but TimeNanos, so the bulk of what
// a scan decodes.
//
// NOTE: parquet-go's decoder zeroes its output buffer before filling it,
// which costs as much as unpacking; this one writes every value once.
type deltaDecoder struct {
	pad []byte // a mini block copied out, followed by the padding bitpack reads
}

// decodeInt64 decodes the stream in src into dst[:0], reusing its capacity.
// The stream must hold at most want values.
func (d *deltaDecoder) decodeInt64(dst []int64, src []byte, want int) ([]int64, error) {
	r := encoding.Decbuf{B: src}
	blockSize, miniBlocks, total := r.Uvarint64(), r.Uvarint64(), r.Uvarint64()
	first := r.Varint64()
	switch {
	case r.Err() != nil:
		return dst[:0], fmt.Errorf("delta header: %w", r.Err())
	case blockSize == 0 || blockSize%128 != 0 || blockSize > maxDeltaBlockSize:
		return dst[:0], fmt.Errorf("delta block of %d values", blockSize)
	case miniBlocks == 0 || (blockSize/miniBlocks)%32 != 0:
		return dst[:0], fmt.Errorf("delta block of %d values in %d mini blocks", blockSize, miniBlocks)
	case total > uint64(want):
		return dst[:0], fmt.Errorf("delta stream of %d values where %d are expected", total, want)
	case total == 0:
		return dst[:0], nil
	case total > 1 && blockSize < miniBlocks:
		return dst[:0], fmt.Errorf("delta block of %d values in %d mini blocks", blockSize, miniBlocks)
	}
	n, miniSize := int(total), int(blockSize/miniBlocks)
	dst = slices.Grow(dst[:0], n)[:n]
	dst[0] = first
	last, pos := first, 1
	for pos < n {
		minDelta := r.Varint64()
		// Like parquet-go, accept a last block cut after the widths it uses.
		widths := r.Bytes(min(int(miniBlocks), len(r.B)))
		if r.Err() != nil {
			return dst[:0], fmt.Errorf("delta block at value %d: %w", pos, r.Err())
		}
		start := pos
		for _, w := range widths {
			if pos == n {
				break // widths of unused mini blocks are present, their data is not
			}
			if w > 64 {
				return dst[:0], fmt.Errorf("%w: %d", errDeltaBitWidth, w)
			}
			k := min(miniSize, n-pos)
			if w == 0 {
				clear(dst[pos : pos+k])
				pos += k
				continue
			}
			// A mini block is stored whole, but the last one may be cut.
			size := miniSize * int(w) / 8
			data := r.B[:min(size, len(r.B))]
			r.B = r.B[len(data):]
			if len(r.B) < bitpack.PaddingInt64 || len(data) < size {
				data = d.padded(data, size)
			}
			bitpack.Unpack(dst[pos:pos+k], data, uint(w))
			pos += k
		}
		last = prefixSum(dst[start:pos], minDelta, last)
	}
	return dst, nil
}

// padded copies a mini block into a buffer that bitpack can read past its
// end, zero-filling what the stream cut short.
func (d *deltaDecoder) padded(data []byte, size int) []byte {
	n := size + bitpack.PaddingInt64
	if cap(d.pad) < n {
		d.pad = make([]byte, n)
	}
	d.pad = d.pad[:n]
	clear(d.pad[copy(d.pad, data):])
	return d.pad[:size]
}

// checkDeltaCount is used where parquet-go decodes a delta stream (INT32
// and byte-array lengths): it sizes its output by the count in the header,
// so the count is checked first.
func checkDeltaCount(src []byte, want int) error {
	r := encoding.Decbuf{B: src}
	r.Uvarint64()
	r.Uvarint64()
	total := r.Uvarint64()
	switch {
	case r.Err() != nil:
		return fmt.Errorf("delta header: %w", r.Err())
	case total > uint64(want):
		return fmt.Errorf("delta stream of %d values where %d are expected", total, want)
	}
	return nil
}

// prefixSum turns the deltas of a block into values, each delta being
// minDelta more than stored, and returns the last value.
func prefixSum(block []int64, minDelta, last int64) int64 {
	// Two independent running sums halve the dependency chain.
	i := 0
	for ; i+1 < len(block); i += 2 {
		a := block[i] + minDelta
		b := a + block[i+1] + minDelta
		block[i] = last + a
		block[i+1] = last + b
		last += b
	}
	if i < len(block) {
		last += block[i] + minDelta
		block[i] = last
	}
	return last
}
