package flamegraph

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestBucketOf(t *testing.T) {
	// Buckets are ordered like the totals, and bucketFloor is the smallest
	// total of each bucket.
	rng := rand.New(rand.NewPCG(1, 2))
	vals := []int64{-5, 0, 1, 2, 3, 15, 16, 17, 31, 32, 33, 63, 64, 1000, 1 << 40, math.MaxInt64}
	for range 10000 {
		vals = append(vals, rng.Int64N(1<<uint(1+rng.IntN(62))))
	}
	slices.Sort(vals)
	for i, v := range vals {
		b := bucketOf(v)
		if i > 0 && b < bucketOf(vals[i-1]) {
			t.Fatalf("bucketOf(%d) = %d < bucketOf(%d) = %d", v, b, vals[i-1], bucketOf(vals[i-1]))
		}
		if v <= 0 {
			if b != 0 {
				t.Fatalf("bucketOf(%d) = %d, want 0", v, b)
			}
			continue
		}
		floor := bucketFloor(b)
		if floor > v || bucketOf(floor) != b || (floor > 1 && bucketOf(floor-1) >= b) {
			t.Fatalf("total %d in bucket %d: floor %d is not the bucket's smallest total", v, b, floor)
		}
	}
	for v := int64(1); v < 4096; v++ {
		if bucketOf(v) <= bucketOf(v-1) && v < 32 {
			t.Fatalf("totals below 32 must have buckets of their own: %d and %d share %d", v-1, v, bucketOf(v))
		}
	}
}

func TestFloorOfKth(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 500 {
		n := 1 + rng.IntN(3000)
		scale := int64(1) << uint(rng.IntN(40))
		vals := make([]int64, n)
		var h totalHistogram
		positive := 0
		for j := range vals {
			if rng.IntN(10) > 0 {
				vals[j] = 1 + rng.Int64N(scale)
				positive++
			}
			h[bucketOf(vals[j])]++
		}
		k := 1 + rng.IntN(n)
		floor := h.floorOfKth(k)
		if k > positive {
			if floor != 1 {
				t.Fatalf("case %d: %d positive totals, k %d: floor %d, want 1", i, positive, k, floor)
			}
			continue
		}
		var near []int64
		for _, v := range vals {
			if v >= floor {
				near = append(near, v)
			}
		}
		want := kthLargest(slices.Clone(vals), k)
		if len(near) < k {
			t.Fatalf("case %d: only %d totals at or above floor %d, k %d", i, len(near), floor, k)
		}
		if got := kthLargest(near, k); got != want {
			t.Fatalf("case %d: k-th largest of the totals from floor %d is %d, want %d", i, floor, got, want)
		}
	}
}
