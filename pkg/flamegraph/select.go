package flamegraph

import "math/bits"

// kthLargest returns the k-th largest value of vals (1 ≤ k ≤ len(vals)),
// counting duplicates. It reorders vals. Quickselect with a three-way
// partition keeps trees with many equal totals linear.
func kthLargest(vals []int64, k int) int64 {
	target := k - 1
	lo, hi := 0, len(vals)-1
	seed := uint64(len(vals))*0x9E3779B97F4A7C15 + 1
	for lo < hi {
		// Median of three pseudo-random elements: no input order is a
		// reliable worst case.
		span := uint64(hi - lo + 1)
		seed ^= seed << 13
		seed ^= seed >> 7
		seed ^= seed << 17
		a := vals[lo+int(seed%span)]
		b := vals[lo+int((seed>>21)%span)]
		c := vals[lo+int((seed>>42)%span)]
		pivot := median3(a, b, c)

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
