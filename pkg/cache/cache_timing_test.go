package cache

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
)

// benchmarkKeys are shaped like the cache keys of block files.
func benchmarkKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("01J%023d/profiles.parquet/page-index/%d", i, i%7)
	}
	return keys
}

// BenchmarkMemory compares the default sharding with a single lock, for
// hits of 4 KiB values and for sets that evict, with all CPUs at work.
func BenchmarkMemory(b *testing.B) {
	const valueSize = 4 << 10
	keys := benchmarkKeys(1 << 14)
	value := make([]byte, valueSize)
	for _, shards := range []int{1, 4, 16} {
		// Room for half of the keys, so that sets evict.
		c := newMemory("bench", int64(len(keys)/2*(valueSize+64)), shards)
		for _, k := range keys {
			c.Set(context.Background(), map[string][]byte{k: value}, 0)
		}
		b.Run(fmt.Sprintf("shards=%d/get", shards), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(valueSize)
			b.RunParallel(func(pb *testing.PB) {
				ctx, r := context.Background(), rand.New(rand.NewPCG(rand.Uint64(), 0))
				batch := make([]string, 1)
				for pb.Next() {
					batch[0] = keys[r.IntN(len(keys))]
					c.Get(ctx, batch)
				}
			})
		})
		b.Run(fmt.Sprintf("shards=%d/set", shards), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(valueSize)
			b.RunParallel(func(pb *testing.PB) {
				ctx, r := context.Background(), rand.New(rand.NewPCG(rand.Uint64(), 0))
				item := make(map[string][]byte, 1)
				for pb.Next() {
					clear(item)
					item[keys[r.IntN(len(keys))]] = value
					c.Set(ctx, item, 0)
				}
			})
		})
	}
}

// BenchmarkObjectLRU measures the partition cache's hit path.
func BenchmarkObjectLRU(b *testing.B) {
	c := NewObjectLRU[uint64](1<<20, fakeSize)
	for k := range uint64(1024) {
		c.Add(k, &fakeObject{100})
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var k uint64
		for pb.Next() {
			c.Get(k & 1023)
			k++
		}
	})
}
