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

// groupShape is what a control byte says of its group: where each of the
// four values starts after the control byte, the mask of its length, and
// the bytes the values take.
type groupShape struct {
	off  [4]uint8
	size uint8
	mask [4]uint32
}

// groupShapes is the shape of the group of every control byte.
var groupShapes = func() (shapes [256]groupShape) {
	for ctrl := range shapes {
		sh := &shapes[ctrl]
		for k := range 4 {
			l := ctrl>>(2*k)&3 + 1
			sh.off[k] = sh.size
			sh.size += uint8(l)
			sh.mask[k] = 1<<(8*l) - 1
		}
	}
	return shapes
}()

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
		sh := &groupShapes[b[pos]]
		p := pos + 1
		var v0, v1, v2, v3 uint32
		if q := b[p:]; len(q) >= groupMaxSize-1 {
			// Every load stays inside b: the last value starts at most 12
			// bytes in. Where each value starts comes from the control
			// byte's entry, so the four loads do not wait on one another.
			q = q[:groupMaxSize-1]
			v0 = binary.LittleEndian.Uint32(q) & sh.mask[0]
			v1 = binary.LittleEndian.Uint32(q[sh.off[1]:]) & sh.mask[1]
			v2 = binary.LittleEndian.Uint32(q[sh.off[2]:]) & sh.mask[2]
			v3 = binary.LittleEndian.Uint32(q[sh.off[3]:]) & sh.mask[3]
		} else {
			if len(q) < int(sh.size) {
				return fmt.Errorf("tree: node %d of %d: group at byte %d needs %d bytes, %d left: %w", i, n, pos, 1+int(sh.size), len(b)-pos, encoding.ErrShortData)
			}
			v0 = readLE(q, sh.off[0], sh.off[1])
			v1 = readLE(q, sh.off[1], sh.off[2])
			v2 = readLE(q, sh.off[2], sh.off[3])
			v3 = readLE(q, sh.off[3], sh.size)
		}
		pos = p + int(sh.size)

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

// readLE reads the little-endian value in b[from:to]; the caller has
// checked the bytes are there.
func readLE(b []byte, from, to uint8) uint32 {
	var v uint32
	for k, c := range b[from:to] {
		v |= uint32(c) << (8 * k)
	}
	return v
}

func unzigzag32(v uint32) int32 { return int32(v>>1) ^ -int32(v&1) }
