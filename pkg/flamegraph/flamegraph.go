package flamegraph

import (
	"fmt"

	querierv1 "github.com/cinder-profiling/cinder/proto/querier/v1"
)

// Node budget limits of Pyroscope's defaults (api.md §6.5.3).
const (
	// DefaultMaxNodes is the budget of a flame graph or tree request that
	// sets max_nodes to 0 or leaves it unset.
	DefaultMaxNodes int64 = 8192
	// MaxNodesLimit is the largest budget a request may ask for.
	MaxNodesLimit int64 = 1048576
)

const (
	rootName  = "total"
	otherName = "other"
)

// NodeBudget holds the per-tenant node budget limits. The zero value
// accepts any budget and resolves an unset one to 0 (no truncation).
type NodeBudget struct {
	// Default replaces a requested budget of 0.
	Default int64
	// Max is the largest budget accepted; 0 accepts any budget (and a
	// negative one then means no truncation).
	Max int64
}

// DefaultNodeBudget is Pyroscope's default: 8192, at most 1048576.
var DefaultNodeBudget = NodeBudget{Default: DefaultMaxNodes, Max: MaxNodesLimit}

// maxNodesError keeps Pyroscope's message verbatim while matching
// ErrInvalidMaxNodes with errors.Is.
type maxNodesError struct{ msg string }

func (e *maxNodesError) Error() string { return e.msg }
func (e *maxNodesError) Unwrap() error { return ErrInvalidMaxNodes }

// Resolve returns the budget to truncate with for a requested max_nodes
// (0 for unset), or an error wrapping ErrInvalidMaxNodes whose message is
// Pyroscope's.
func (b NodeBudget) Resolve(requested int64) (int64, error) {
	if requested == 0 {
		return b.Default, nil
	}
	if b.Max > 0 {
		if requested < 0 {
			return 0, &maxNodesError{fmt.Sprintf("max flamegraph nodes limit must be set (max allowed %d)", b.Max)}
		}
		if requested > b.Max {
			return 0, &maxNodesError{fmt.Sprintf("max flamegraph nodes limit %d is greater than allowed %d", requested, b.Max)}
		}
	}
	return requested, nil
}

// ResolveMaxNodes resolves a requested max_nodes with DefaultNodeBudget.
// For Diff, resolve the larger of the two sides' requests.
func ResolveMaxNodes(requested int64) (int64, error) {
	return DefaultNodeBudget.Resolve(requested)
}

// fgVisit is a node waiting on the depth-first stack of FlameGraph. node < 0
// is a synthetic "other" node whose self and total are other.
type fgVisit struct {
	node  int32
	level int32
	x     int64
	other int64
}

// fgNode is an emitted node in visit order.
type fgNode struct {
	level int32
	name  int32 // index into the flame graph's names
	x     int64
	total int64
	self  int64
}

// FlameGraph lays the tree out as a flame graph (api.md §6.5.2), truncated
// to maxNodes nodes (§6.5.3; maxNodes < 1 keeps every node). Siblings are
// ordered byte-wise by name; children whose total is below the
// maxNodes-th largest total, and every child named "other", are summed into
// one synthetic "other" child placed rightmost. Names are numbered in order
// of first visit of a pre-order walk entering children last to first, with
// "total" at index 0. An empty tree gives the one-node graph of §7.
func (t *Tree) FlameGraph(maxNodes int64) *querierv1.FlameGraph {
	t.computeTotals()
	minTotal := t.minTotal(maxNodes)
	first, kids := t.childLists()
	otherID := t.lookupName(otherName)

	names := []string{rootName}
	nameIndex := make([]int32, len(t.names))
	for i := range nameIndex {
		nameIndex[i] = -1
	}
	if id := t.lookupName(rootName); id >= 0 {
		nameIndex[id] = 0
	}
	indexOf := func(id int32) int32 {
		if nameIndex[id] < 0 {
			nameIndex[id] = int32(len(names))
			names = append(names, t.names[id])
		}
		return nameIndex[id]
	}
	syntheticOther := int32(-1)
	otherIndex := func() int32 {
		if otherID >= 0 {
			return indexOf(otherID)
		}
		if syntheticOther < 0 {
			syntheticOther = int32(len(names))
			names = append(names, otherName)
		}
		return syntheticOther
	}

	var (
		out     []fgNode
		levels  []int32 // nodes per level
		maxSelf int64
	)
	stack := []fgVisit{{node: 0}}
	for len(stack) > 0 {
		v := stack[len(stack)-1]
		stack = stack[:len(stack)-1]

		var e fgNode
		e.level, e.x = v.level, v.x
		switch {
		case v.node < 0:
			e.name, e.total, e.self = otherIndex(), v.other, v.other
		case v.node == 0:
			e.name, e.total = 0, t.total[0]
		default:
			e.name, e.total, e.self = indexOf(t.name[v.node]), t.total[v.node], t.self[v.node]
		}
		out = append(out, e)
		if int(e.level) == len(levels) {
			levels = append(levels, 0)
		}
		levels[e.level]++
		maxSelf = max(maxSelf, e.self)
		if v.node < 0 {
			continue
		}

		// Children start after the node's own self part, left to right;
		// pushing them in that order pops them last to first.
		x := v.x + t.self[v.node]
		var other int64
		for _, c := range kids[first[v.node]:first[v.node+1]] {
			if t.total[c] >= minTotal && t.name[c] != otherID {
				stack = append(stack, fgVisit{node: c, level: v.level + 1, x: x})
				x += t.total[c]
			} else {
				other += t.total[c]
			}
		}
		if other != 0 {
			stack = append(stack, fgVisit{node: -1, level: v.level + 1, x: x, other: other})
		}
	}

	return &querierv1.FlameGraph{
		Names:   names,
		Levels:  buildLevels(out, levels),
		Total:   t.total[0],
		MaxSelf: maxSelf,
	}
}

// buildLevels turns nodes in visit order (right to left within a level)
// into delta-encoded levels, left to right.
func buildLevels(out []fgNode, counts []int32) []*querierv1.Level {
	levels := make([]*querierv1.Level, len(counts))
	backing := make([]int64, 4*len(out))
	structs := make([]querierv1.Level, len(counts))
	off := 0
	for i, c := range counts {
		structs[i].Values = backing[off : off : off+4*int(c)]
		levels[i] = &structs[i]
		off += 4 * int(c)
	}
	ends := make([]int64, len(counts)) // end of the previous node per level
	for i := len(out) - 1; i >= 0; i-- {
		e := &out[i]
		l := &structs[e.level]
		l.Values = append(l.Values, e.x-ends[e.level], e.total, e.self, int64(e.name))
		ends[e.level] = e.x + e.total
	}
	return levels
}
