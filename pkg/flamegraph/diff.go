package flamegraph

import (
	"strings"

	querierv1 "github.com/cinder-profiling/cinder/proto/querier/v1"
)

// alignedTree is the union of two trees' shapes (api.md §6.9 step 1): node
// a stands for left node left[a] and right node right[a], -1 where that side
// has no such node. Node 0 is the common root; children of a node are
// contiguous, kids first[a] to first[a]+count[a]-1, in byte-wise name order.
type alignedTree struct {
	left, right  []int32
	first, count []int32
}

func alignTrees(l, r *Tree) alignedTree {
	lFirst, lKids := l.childLists()
	rFirst, rKids := r.childLists()
	a := alignedTree{left: []int32{0}, right: []int32{0}}
	for q := 0; q < len(a.left); q++ {
		var lk, rk []int32
		if ln := a.left[q]; ln >= 0 {
			lk = lKids[lFirst[ln]:lFirst[ln+1]]
		}
		if rn := a.right[q]; rn >= 0 {
			rk = rKids[rFirst[rn]:rFirst[rn+1]]
		}
		a.first = append(a.first, int32(len(a.left)))
		for len(lk) > 0 || len(rk) > 0 {
			c := 0
			switch {
			case len(lk) == 0:
				c = 1
			case len(rk) == 0:
				c = -1
			default:
				c = strings.Compare(l.names[l.name[lk[0]]], r.names[r.name[rk[0]]])
			}
			switch {
			case c < 0:
				a.left, a.right = append(a.left, lk[0]), append(a.right, -1)
				lk = lk[1:]
			case c > 0:
				a.left, a.right = append(a.left, -1), append(a.right, rk[0])
				rk = rk[1:]
			default:
				a.left, a.right = append(a.left, lk[0]), append(a.right, rk[0])
				lk, rk = lk[1:], rk[1:]
			}
		}
		a.count = append(a.count, int32(len(a.left))-a.first[q])
	}
	return a
}

// diffVisit is an aligned node waiting on the depth-first stack of NewDiff;
// node < 0 is a synthetic "other" node with totals otherL and otherR.
type diffVisit struct {
	node           int32
	level          int32
	lx, rx         int64
	otherL, otherR int64
}

type diffNode struct {
	level      int32
	name       int32
	lx, lt, ls int64
	rx, rt, rs int64
}

// NewDiff lays out the diff flame graph of two trees (api.md §6.9): the
// trees are aligned under a common root, truncated to maxNodes nodes
// (maxNodes < 1 keeps every node) by the maxNodes-th largest of
// max(left total, right total), and every node becomes
// [left x_delta, left total, left self, right x_delta, right total,
// right self, name index], each side placed and delta-encoded as in a flame
// graph. Empty inputs give names ["total"] and one level of seven zeros.
//
// As in Pyroscope v1.21.1, the common root counts towards the budget, and
// children named "other" are ordinary nodes here: only dropped siblings are
// folded into the synthetic rightmost "other" node. Names are shared by
// both sides; a function named "total" shares index 0 with the root, as in
// FlameGraph.
func NewDiff(left, right *Tree, maxNodes int64) *querierv1.FlameGraphDiff {
	if left == nil {
		left = NewTree()
	}
	if right == nil {
		right = NewTree()
	}
	left.computeTotals()
	right.computeTotals()
	a := alignTrees(left, right)

	totals := func(node int32) (lt, rt int64) {
		if ln := a.left[node]; ln >= 0 {
			lt = left.total[ln]
		}
		if rn := a.right[node]; rn >= 0 {
			rt = right.total[rn]
		}
		return lt, rt
	}
	selfs := func(node int32) (ls, rs int64) {
		if ln := a.left[node]; ln > 0 {
			ls = left.self[ln]
		}
		if rn := a.right[node]; rn > 0 {
			rs = right.self[rn]
		}
		return ls, rs
	}

	var minTotal int64
	if n := int64(len(a.left)); maxNodes > 0 && n > maxNodes {
		vals := make([]int64, n)
		for i := range vals {
			lt, rt := totals(int32(i))
			vals[i] = max(lt, rt)
		}
		minTotal = kthLargest(vals, int(maxNodes))
	}

	// Output name indices, shared by both sides.
	names := []string{rootName}
	index := map[string]int32{rootName: 0}
	indexOf := func(name string) int32 {
		i, ok := index[name]
		if !ok {
			i = int32(len(names))
			index[name] = i
			names = append(names, name)
		}
		return i
	}
	nameOf := func(node int32) string {
		if ln := a.left[node]; ln >= 0 {
			return left.names[left.name[ln]]
		}
		rn := a.right[node]
		return right.names[right.name[rn]]
	}

	var (
		out     []diffNode
		counts  []int32
		maxSelf int64
	)
	stack := []diffVisit{{node: 0}}
	for len(stack) > 0 {
		v := stack[len(stack)-1]
		stack = stack[:len(stack)-1]

		e := diffNode{level: v.level, lx: v.lx, rx: v.rx}
		switch {
		case v.node < 0:
			e.name = indexOf(otherName)
			e.lt, e.ls, e.rt, e.rs = v.otherL, v.otherL, v.otherR, v.otherR
		case v.node == 0:
			e.lt, e.rt = totals(0)
		default:
			e.name = indexOf(nameOf(v.node))
			e.lt, e.rt = totals(v.node)
			e.ls, e.rs = selfs(v.node)
		}
		out = append(out, e)
		if int(e.level) == len(counts) {
			counts = append(counts, 0)
		}
		counts[e.level]++
		maxSelf = max(maxSelf, e.ls, e.rs)
		if v.node < 0 {
			continue
		}

		lx, rx := v.lx+e.ls, v.rx+e.rs
		var otherL, otherR int64
		for c := a.first[v.node]; c < a.first[v.node]+a.count[v.node]; c++ {
			lt, rt := totals(c)
			if lt >= minTotal || rt >= minTotal {
				stack = append(stack, diffVisit{node: c, level: v.level + 1, lx: lx, rx: rx})
				lx += lt
				rx += rt
			} else {
				otherL += lt
				otherR += rt
			}
		}
		if otherL != 0 || otherR != 0 {
			stack = append(stack, diffVisit{node: -1, level: v.level + 1, lx: lx, rx: rx, otherL: otherL, otherR: otherR})
		}
	}

	levels := make([]*querierv1.Level, len(counts))
	structs := make([]querierv1.Level, len(counts))
	backing := make([]int64, 7*len(out))
	off := 0
	for i, c := range counts {
		structs[i].Values = backing[off : off : off+7*int(c)]
		levels[i] = &structs[i]
		off += 7 * int(c)
	}
	lEnds := make([]int64, len(counts))
	rEnds := make([]int64, len(counts))
	for i := len(out) - 1; i >= 0; i-- {
		e := &out[i]
		l := &structs[e.level]
		l.Values = append(l.Values,
			e.lx-lEnds[e.level], e.lt, e.ls,
			e.rx-rEnds[e.level], e.rt, e.rs,
			int64(e.name))
		lEnds[e.level] = e.lx + e.lt
		rEnds[e.level] = e.rx + e.rt
	}

	lt, rt := totals(0)
	return &querierv1.FlameGraphDiff{
		Names:      names,
		Levels:     levels,
		Total:      lt + rt,
		MaxSelf:    maxSelf,
		LeftTicks:  lt,
		RightTicks: rt,
	}
}
