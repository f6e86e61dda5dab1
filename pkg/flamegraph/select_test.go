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

func TestCutNodes(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	want := func(totals []int64, k int) int64 {
		positive := 0
		for _, v := range totals {
			if v > 0 {
				positive++
			}
		}
		if k < 1 || positive < k {
			return 1
		}
		return kthLargest(slices.Clone(totals), k)
	}
	var sc cutScratch
	check := func(name string, totals []int64, k int) {
		t.Helper()
		// The totals are those of nodes 1.., after the root's.
		total := append([]int64{1 << 62}, totals...)
		cand, got := cutNodes([]int32{-7}, total, k, &sc)
		if w := want(totals, k); got != w {
			t.Fatalf("%s: %d totals, k %d: cut-off %d, want %d", name, len(totals), k, got, w)
		}
		if cand[0] != -7 || !slices.IsSorted(cand[1:]) {
			t.Fatalf("%s: candidates not appended in order", name)
		}
		listed := map[int32]bool{}
		for _, j := range cand[1:] {
			if j < 1 || listed[j] {
				t.Fatalf("%s: candidate %d is the root or listed twice", name, j)
			}
			listed[j] = true
		}
		for j := 1; j < len(total); j++ {
			if total[j] >= got && total[j] > 0 && !listed[int32(j)] {
				t.Fatalf("%s: node %d reaches the cut-off %d but is not a candidate", name, j, got)
			}
		}
	}
	for i := range 200 {
		// Small and large sets (the sample is used above 4·cutSample).
		n := 1 + rng.IntN(100)
		if i%2 == 0 {
			n = 4*cutSample + rng.IntN(60000)
		}
		totals := make([]int64, n)
		zeros, scale := rng.IntN(4), int64(1)<<uint(rng.IntN(40))
		for j := range totals {
			switch {
			case rng.IntN(4) < zeros:
			case i%5 == 0:
				totals[j] = 1 + rng.Int64N(3) // many equal totals
			default:
				// Heavy-tailed, as the totals of a call tree are.
				totals[j] = 1 + int64(float64(scale)/(1+rng.Float64()*1000))
			}
		}
		if i%7 == 0 {
			slices.Sort(totals)
		}
		check("random", totals, 1+rng.IntN(n+10))
	}

	// The sample sees only large totals: its floor is too high and the
	// histogram takes over.
	n, k := 8*cutSample, 8192
	stride := n / cutSample
	misleading := make([]int64, n)
	for j := range misleading {
		misleading[j] = int64(1 + j%50)
		if j%stride == stride/2 {
			misleading[j] = 1 << 30
		}
	}
	check("sample of large totals only", misleading, k)
	// The sample sees only zeros.
	for j := range misleading {
		misleading[j] = int64(1 + j%1000)
		if j%stride == stride/2 {
			misleading[j] = 0
		}
	}
	check("sample of zeros only", misleading, k)
	check("no budget", misleading, 0)
}
