package flamegraph

import (
	"math"
	"math/bits"
)

// kthLargest returns the k-th largest value of vals (1 ≤ k ≤ len(vals)),
// counting duplicates. It reorders vals. Quickselect with a three-way
// partition keeps trees with many equal totals linear.
func kthLargest(vals []int64, k int) int64 {
	target := k - 1
	lo, hi := 0, len(vals)-1
	seed := pivotSeed(len(vals))
	for lo < hi {
		pivot := pickPivot(vals, lo, hi, &seed)

		// Descending: [lo, lt) > pivot, [lt, gt] == pivot, (gt, hi] < pivot.
		lt, i, gt := lo, lo, hi
		for i <= gt {
			switch v := vals[i]; {
			case v > pivot:
				vals[lt], vals[i] = vals[i], vals[lt]
				lt++
				i++
			case v < pivot:
				vals[i], vals[gt] = vals[gt], vals[i]
				gt--
			default:
				i++
			}
		}
		switch {
		case target < lt:
			hi = lt - 1
		case target > gt:
			lo = gt + 1
		default:
			return pivot
		}
	}
	return vals[target]
}

// pivotSeed starts the pseudo-random sequence of pickPivot for n values.
func pivotSeed(n int) uint64 { return uint64(n)*0x9E3779B97F4A7C15 + 1 }

// pickPivot returns the median of three pseudo-random values of
// vals[lo:hi+1], advancing seed: no input order is a reliable worst case
// for a quickselect that partitions around it.
func pickPivot(vals []int64, lo, hi int, seed *uint64) int64 {
	span := uint64(hi - lo + 1)
	s := *seed
	s ^= s << 13
	s ^= s >> 7
	s ^= s << 17
	*seed = s
	return median3(vals[lo+int(s%span)], vals[lo+int((s>>21)%span)], vals[lo+int((s>>42)%span)])
}

func median3(a, b, c int64) int64 {
	if a > b {
		a, b = b, a
	}
	if b > c {
		b = c
	}
	if a > b {
		return a
	}
	return b
}

// cutScratch is the scratch space of cutNodes, reused between calls.
type cutScratch struct {
	sample, near []int64
	hist         totalHistogram
}

// cutSample is how many totals cutNodes samples.
const cutSample = 4096

// cutNodes returns the nodes j ≥ 1 of a tree that may survive a cut to k
// nodes, ascending, appended to cand, and the cut-off: the k-th largest of
// total[1:], duplicates counted, or 1 when fewer than k totals are positive
// (or k < 1): the smallest total a node needs to be kept. The nodes whose
// total reaches the cut-off are all among those returned.
//
// Only the totals near the cut-off are selected among: a floor below it
// comes from an evenly spaced sample of the totals or, when the sample
// misled it, from a histogram of them all.
func cutNodes(cand []int32, total []int64, k int, sc *cutScratch) ([]int32, int64) {
	n := len(total) - 1
	if k < 1 || n < k {
		return nodesFrom(cand, total, 1), 1
	}
	totals := total[1:]
	floor := int64(1)
	if n > 4*cutSample {
		// The rank the k-th largest has in the sample, lowered by a
		// margin of a few standard deviations: the floor is below the
		// k-th largest nearly always.
		stride := n / cutSample
		sample := sc.sample[:0]
		for i := stride / 2; i < n; i += stride {
			sample = append(sample, totals[i])
		}
		sc.sample = sample
		r := k / stride
		r += 4*int(math.Sqrt(float64(r))) + 8
		if r < len(sample) {
			floor = max(floor, kthLargest(sample, r))
		}
	}
	start := len(cand)
	cand = nodesFrom(cand, total, floor)
	if len(cand)-start < k && floor > 1 {
		h := &sc.hist
		clear(h[:])
		for _, v := range totals {
			h[bucketOf(v)]++
		}
		cand = nodesFrom(cand[:start], total, h.floorOfKth(k))
	}
	if len(cand)-start < k {
		return cand, 1
	}
	near := sc.near[:0]
	for _, j := range cand[start:] {
		near = append(near, total[j])
	}
	sc.near = near
	return cand, kthLargest(near, k)
}

// nodesFrom appends to dst the nodes j ≥ 1 whose total is at least floor.
func nodesFrom(dst []int32, total []int64, floor int64) []int32 {
	for j := 1; j < len(total); j++ {
		if total[j] >= floor {
			dst = append(dst, int32(j))
		}
	}
	return dst
}

// totalHistogram counts totals in buckets ordered like the totals: bucket
// 0 holds the totals ≤ 0, and each power of two above is split into 16
// buckets by the four bits below its leading one (exact below 32). It
// narrows the k-th largest of a large set of totals down to the few totals
// near it, so only those are selected among.
type totalHistogram [64 << 4]int32

// bucketOf returns the bucket of total v.
func bucketOf(v int64) int {
	if v <= 0 {
		return 0
	}
	e := bits.Len64(uint64(v)) // 1..63
	var sub uint64
	if e >= 5 {
		sub = uint64(v) >> (e - 5)
	} else {
		sub = uint64(v) << (5 - e)
	}
	return e<<4 | int(sub&15)
}

// bucketFloor returns the smallest total in bucket b (b ≥ 16), which holds
// at least one total.
func bucketFloor(b int) int64 {
	e, lead := b>>4, uint64(16|b&15)
	if e >= 5 {
		return int64(lead << (e - 5))
	}
	return int64(lead >> (5 - e))
}

// floorOfKth returns the smallest total of the bucket holding the k-th
// largest total counted in h (k ≥ 1), so that the k-th largest is the k-th
// largest of the totals at or above it; 1 when fewer than k totals are
// positive.
func (h *totalHistogram) floorOfKth(k int) int64 {
	seen := 0
	for b := len(h) - 1; b >= 16; b-- {
		seen += int(h[b])
		if seen >= k {
			return bucketFloor(b)
		}
	}
	return 1
}
