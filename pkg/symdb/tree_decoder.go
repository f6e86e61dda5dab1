package symdb

import (
	"encoding/binary"
	"fmt"

	"github.com/cinder-profiling/cinder/pkg/encoding"
)

// Group-varint layout (block-format.md §10.2): a control byte whose bit
// pairs give the byte length − 1 of four little-endian values.
const (
	groupMinSize = 1 + 4*1
	groupMaxSize = 1 + 4*4
)

var groupVarintMask = [4]uint32{0xff, 0xffff, 0xffffff, 0xffffffff}

// maxTreeNodes returns how many nodes a chunk of size bytes can hold at
// most: every group of two nodes takes at least five bytes.
func maxTreeNodes(size uint64) uint64 { return size / groupMinSize * 2 }

// treeSlab is how many nodes decodeTree decodes before it adds them to the
// tree: the loop that decodes stays as tight as the one that adds, and
// the slab, 8 KiB, lives on the stack.
const treeSlab = 1024

// decodeTree decodes a serialized parent-pointer tree of n nodes and adds
// them to dst. Parents are local to the chunk and checked: node i has
// -1 <= parent < i; dst offsets them by the nodes it held before. The
// chunk must be consumed exactly.
func decodeTree(dst *stackTreeBuilder, n int, b []byte) error {
	base := int32(dst.t.n)
	var parents, locs [treeSlab]int32
	k := 0           // nodes in the slab; even until the last node
	var parent int64 // parent of the previous node; parent[-1] = 0
	pos := 0
	for i := 0; i < n; i += 2 {
		if k == treeSlab {
			dst.addNodes(parents[:], locs[:], base)
			k = 0
		}
		if pos >= len(b) {
			return fmt.Errorf("tree: node %d of %d at byte %d: %w", i, n, pos, encoding.ErrShortData)
		}
		ctrl := b[pos]
		l0 := int(ctrl&3) + 1
		l1 := int(ctrl>>2&3) + 1
		l2 := int(ctrl>>4&3) + 1
		l3 := int(ctrl>>6) + 1
		if len(b)-pos-1 < l0+l1+l2+l3 {
			return fmt.Errorf("tree: node %d of %d: group at byte %d needs %d bytes, %d left: %w", i, n, pos, 1+l0+l1+l2+l3, len(b)-pos, encoding.ErrShortData)
		}
		var v0, v1, v2, v3 uint32
		p := pos + 1
		if len(b)-p >= groupMaxSize-1 {
			// Every load stays inside b: the last value starts at most 12
			// bytes in.
			v0 = binary.LittleEndian.Uint32(b[p:]) & groupVarintMask[l0-1]
			p += l0
			v1 = binary.LittleEndian.Uint32(b[p:]) & groupVarintMask[l1-1]
			p += l1
			v2 = binary.LittleEndian.Uint32(b[p:]) & groupVarintMask[l2-1]
			p += l2
			v3 = binary.LittleEndian.Uint32(b[p:]) & groupVarintMask[l3-1]
			p += l3
		} else {
			v0, p = readLE(b, p, l0)
			v1, p = readLE(b, p, l1)
			v2, p = readLE(b, p, l2)
			v3, p = readLE(b, p, l3)
		}
		pos = p

		parent += int64(unzigzag32(v0))
		if parent < -1 || parent >= int64(i) {
			return fmt.Errorf("tree: node %d of %d has parent %d", i, n, parent)
		}
		parents[k], locs[k] = int32(parent), int32(v1)
		k++
		if i+1 == n {
			break // odd N: the second pair is the writer's stub
		}
		parent += int64(unzigzag32(v2))
		if parent < -1 || parent >= int64(i+1) {
			return fmt.Errorf("tree: node %d of %d has parent %d", i+1, n, parent)
		}
		parents[k], locs[k] = int32(parent), int32(v3)
		k++
	}
	if pos != len(b) {
		return fmt.Errorf("tree: %d bytes left after %d nodes", len(b)-pos, n)
	}
	dst.addNodes(parents[:k], locs[:k], base)
	return nil
}

// readLE reads an l-byte little-endian value at b[p:]; the caller has
// checked the bytes are there.
func readLE(b []byte, p, l int) (uint32, int) {
	var v uint32
	for k := 0; k < l; k++ {
		v |= uint32(b[p+k]) << (8 * k)
	}
	return v, p + l
}

func unzigzag32(v uint32) int32 { return int32(v>>1) ^ -int32(v&1) }
