package flamegraph

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
