package flamegraph

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"
)

// The tree format of PROFILE_FORMAT_TREE (api.md §6.5.4): a pre-order
// serialization that starts with a virtual root (empty name, self 0); each
// node is uvarint(len(name)), the name bytes, uvarint(self),
// uvarint(child count), followed by its children as complete subtrees.
// Totals are not stored. Pyroscope writes children last to first; readers
// insert them by name, so the order carries no meaning.

// tfVisit is a node waiting to be written. node < 0 is a synthetic "other"
// node; extra is added to the node's self (dropped siblings folded into an
// existing "other" node).
type tfVisit struct {
	node  int32
	extra int64
}

// MarshalTree returns the tree in Pyroscope's tree format, truncated to
// maxNodes nodes (maxNodes < 1 keeps every node). Truncation follows
// Pyroscope's tree writer, which differs from the flame graph: children
// named "other" are kept whatever their total, and the dropped children's
// totals go into an "other" child inserted in name order (added to the self
// of an existing "other" child). An empty tree is zero bytes.
func (t *Tree) MarshalTree(maxNodes int64) []byte {
	return t.AppendTree(nil, maxNodes)
}

// AppendTree is MarshalTree appending to dst.
func (t *Tree) AppendTree(dst []byte, maxNodes int64) []byte {
	if t.Len() == 0 {
		return dst
	}
	t.computeTotals()
	minTotal := t.minTotal(maxNodes)
	first, kids := t.childLists()
	otherID := t.lookupName(otherName)

	stack := []tfVisit{{node: 0}}
	for len(stack) > 0 {
		v := stack[len(stack)-1]
		stack = stack[:len(stack)-1]

		switch {
		case v.node < 0:
			dst = appendTreeNode(dst, otherName, v.extra, 0)
			continue
		case v.node == 0:
			dst = appendTreeNode(dst, "", 0, -1)
		default:
			dst = appendTreeNode(dst, t.names[t.name[v.node]], t.self[v.node]+v.extra, -1)
		}

		mark := len(stack)
		existingOther := -1
		var dropped int64
		for _, c := range kids[first[v.node]:first[v.node+1]] {
			isOther := t.name[c] == otherID
			if t.total[c] >= minTotal || isOther {
				if isOther {
					existingOther = len(stack)
				}
				stack = append(stack, tfVisit{node: c})
			} else {
				dropped += t.total[c]
			}
		}
		if dropped > 0 {
			if existingOther >= 0 {
				stack[existingOther].extra += dropped
			} else {
				// Insert in name order among the kept children.
				at := len(stack)
				for i := mark; i < len(stack); i++ {
					if strings.Compare(t.names[t.name[stack[i].node]], otherName) > 0 {
						at = i
						break
					}
				}
				stack = append(stack, tfVisit{})
				copy(stack[at+1:], stack[at:])
				stack[at] = tfVisit{node: -1, extra: dropped}
			}
		}
		// Pushed first to last, the children pop last to first.
		dst = binary.AppendUvarint(dst, uint64(len(stack)-mark))
	}
	return dst
}

// appendTreeNode writes a node's name and self, and its child count unless
// children < 0 (the caller writes it once the children are known).
func appendTreeNode(dst []byte, name string, self int64, children int) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(name)))
	dst = append(dst, name...)
	dst = binary.AppendUvarint(dst, uint64(self))
	if children >= 0 {
		dst = binary.AppendUvarint(dst, uint64(children))
	}
	return dst
}

// treeDecoder reads the tree format with a sticky error: every getter
// returns zero once an error occurred, and the caller checks err once.
type treeDecoder struct {
	b   []byte
	off int
	err error
}

func (d *treeDecoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		if n == 0 {
			d.err = fmt.Errorf("offset %d: unexpected end: %w", d.off, ErrMalformedTree)
		} else {
			d.err = fmt.Errorf("offset %d: varint overflows 64 bits: %w", d.off, ErrMalformedTree)
		}
		return 0
	}
	d.off += n
	return v
}

func (d *treeDecoder) bytes(n uint64) []byte {
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)-d.off) {
		d.err = fmt.Errorf("offset %d: name of %d bytes exceeds the input: %w", d.off, n, ErrMalformedTree)
		return nil
	}
	b := d.b[d.off : d.off+int(n)]
	d.off += int(n)
	return b
}

func (d *treeDecoder) value() int64 {
	v := d.uvarint()
	if v > math.MaxInt64 && d.err == nil {
		d.err = fmt.Errorf("offset %d: value %d out of range: %w", d.off, v, ErrMalformedTree)
	}
	return int64(v)
}

// UnmarshalTree decodes a tree in Pyroscope's tree format (zero bytes is the
// empty tree). The virtual root's name and self are ignored. Children are
// inserted by name, so siblings with equal names merge. Errors wrap
// ErrMalformedTree; trailing bytes after the tree are an error.
func UnmarshalTree(b []byte) (*Tree, error) {
	t := NewTree()
	if len(b) == 0 {
		return t, nil
	}
	d := treeDecoder{b: b}
	d.bytes(d.uvarint()) // virtual root: name and self carry nothing
	d.value()

	type frame struct {
		node      int32
		remaining uint64
	}
	stack := []frame{{node: 0, remaining: d.uvarint()}}
	for len(stack) > 0 && d.err == nil {
		top := &stack[len(stack)-1]
		if top.remaining == 0 {
			stack = stack[:len(stack)-1]
			continue
		}
		top.remaining--
		parent := top.node
		name := d.bytes(d.uvarint())
		self := d.value()
		children := d.uvarint()
		if d.err != nil {
			break
		}
		c := t.child(parent, t.internBytes(name))
		if t.self[c] > math.MaxInt64-self {
			d.err = fmt.Errorf("offset %d: self value overflows: %w", d.off, ErrMalformedTree)
			break
		}
		t.self[c] += self
		if children > 0 {
			stack = append(stack, frame{node: c, remaining: children})
		}
	}
	if d.err == nil && d.off != len(b) {
		d.err = fmt.Errorf("offset %d: %d bytes after the tree: %w", d.off, len(b)-d.off, ErrMalformedTree)
	}
	if d.err != nil {
		return nil, d.err
	}
	t.dirty = true
	return t, nil
}
