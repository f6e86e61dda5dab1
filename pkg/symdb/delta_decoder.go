package symdb

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cinder-profiling/cinder/pkg/encoding"
)

// Limits of a DELTA_BINARY_PACKED header that this decoder accepts. Parquet
// writers use 128 values per block in 4 mini-blocks; anything far larger is
// corrupt and would only make the per-block scratch space large.
const (
	deltaMaxBlockSize  = 1 << 12
	deltaMiniBlockUnit = 32
)

var errDeltaHeader = errors.New("bad DELTA_BINARY_PACKED header")

// decodeDelta decodes one DELTA_BINARY_PACKED stream (block-format.md §9.6)
// that must hold exactly n values into dst, reusing its capacity. Arithmetic
// wraps like the writer's, so int32 columns come out right when the caller
// truncates each value. Bytes after the last value are ignored.
func decodeDelta(dst []int64, b []byte, n int) ([]int64, error) {
	if n == 0 && len(b) == 0 {
		return dst[:0], nil // an absent column of nothing
	}
	d := encoding.Decbuf{B: b}
	blockSize := d.Uvarint64()
	miniBlocks := d.Uvarint64()
	total := d.Uvarint64()
	first := d.Varint64()
	if d.Err() != nil {
		return dst[:0], fmt.Errorf("delta header: %w", d.Err())
	}
	if blockSize == 0 || blockSize%128 != 0 || blockSize > deltaMaxBlockSize ||
		miniBlocks == 0 || blockSize%miniBlocks != 0 || (blockSize/miniBlocks)%deltaMiniBlockUnit != 0 {
		return dst[:0], fmt.Errorf("%w: block size %d, %d mini-blocks", errDeltaHeader, blockSize, miniBlocks)
	}
	if total != uint64(n) {
		return dst[:0], fmt.Errorf("%w: %d values instead of %d", errDeltaHeader, total, n)
	}
	// Every block takes a min delta and one width byte per mini-block, so
	// the bytes left bound the count before anything is allocated.
	if maxValues := 1 + (uint64(d.Len())/(1+miniBlocks)+1)*blockSize; total > maxValues {
		return dst[:0], fmt.Errorf("%w: %d values cannot fit in %d bytes", errDeltaHeader, total, d.Len())
	}
	if cap(dst) < n {
		dst = make([]int64, n)
	}
	dst = dst[:n]
	if n == 0 {
		return dst, nil
	}
	miniSize := int(blockSize / miniBlocks)
	var scratch [64*deltaMiniBlockUnit/8 + 8]byte // one padded mini-block body of width ≤ 64
	prev := uint64(first)
	dst[0] = first
	i := 1
	for i < n {
		minDelta := uint64(d.Varint64())
		widths := d.Bytes(int(miniBlocks))
		if d.Err() != nil {
			return dst[:0], fmt.Errorf("delta block at value %d of %d: %w", i, n, d.Err())
		}
		for _, w := range widths {
			if i >= n {
				break // unneeded trailing mini-blocks have no body
			}
			if w > 64 {
				return dst[:0], fmt.Errorf("delta block at value %d of %d: bit width %d", i, n, w)
			}
			bodyLen := miniSize * int(w) / 8
			body := d.Bytes(bodyLen)
			if d.Err() != nil {
				return dst[:0], fmt.Errorf("delta mini-block at value %d of %d: %w", i, n, d.Err())
			}
			m := min(miniSize, n-i)
			if w == 0 {
				for k := 0; k < m; k++ {
					prev += minDelta
					dst[i+k] = int64(prev)
				}
			} else {
				unpackDeltas(dst[i:i+m], body, uint(w), &prev, minDelta, scratch[:])
			}
			i += m
		}
	}
	return dst, nil
}

// unpackDeltas turns len(dst) bit-packed deltas of width w into values,
// continuing from *prev. body holds at least len(dst)·w bits.
func unpackDeltas(dst []int64, body []byte, w uint, prev *uint64, minDelta uint64, scratch []byte) {
	// Mini-blocks are at most 64·32/8 bytes; with 8 bytes of zero padding
	// every 8-byte load below stays in bounds.
	var buf []byte
	if len(body)+8 <= len(scratch) {
		buf = scratch[:len(body)+8]
		copy(buf, body)
		clear(buf[len(body):])
	} else {
		buf = make([]byte, len(body)+8)
		copy(buf, body)
	}
	mask := uint64(1)<<w - 1
	if w == 64 {
		mask = ^uint64(0)
	}
	v := *prev
	bit := uint(0)
	for k := range dst {
		byteOff, shift := bit>>3, bit&7
		x := binary.LittleEndian.Uint64(buf[byteOff:]) >> shift
		if shift+w > 64 {
			x |= uint64(buf[byteOff+8]) << (64 - shift)
		}
		v += minDelta + x&mask
		dst[k] = int64(v)
		bit += w
	}
	*prev = v
}
