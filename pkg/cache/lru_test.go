package cache

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/cinder-profiling/cinder/pkg/symdb"
	"github.com/oklog/ulid/v2"
)

// The partition cache plug-in point of pkg/symdb.
var (
	_ symdb.PartitionCache = (*ObjectLRU[uint64, *symdb.Partition])(nil)
	_ symdb.PartitionCache = ObjectCache[uint64, *symdb.Partition](nil)
	_ symdb.PartitionCache = Scope(ObjectCache[ScopedKey[ulid.ULID, uint64], *symdb.Partition](nil), ulid.ULID{})
	_ symdb.PartitionCache = InstrumentObjects(ObjectCache[uint64, *symdb.Partition](nil), "partitions", nil)
)

func TestLRUEvictionOrder(t *testing.T) {
	var l lru[string, int]
	l.init(10)
	type step struct {
		op      string // "add" or "get"
		key     string
		size    int64
		wantOK  bool
		want    []string // keys, most recently used first
		wantLen int64
	}
	for i, s := range []step{
		{op: "add", key: "a", size: 3, wantOK: true, want: []string{"a"}, wantLen: 3},
		{op: "add", key: "b", size: 3, wantOK: true, want: []string{"b", "a"}, wantLen: 6},
		{op: "add", key: "c", size: 3, wantOK: true, want: []string{"c", "b", "a"}, wantLen: 9},
		{op: "get", key: "a", wantOK: true, want: []string{"a", "c", "b"}, wantLen: 9},
		{op: "get", key: "zz", wantOK: false, want: []string{"a", "c", "b"}, wantLen: 9},
		// d needs 3 more than fits: the least recently used, b, goes.
		{op: "add", key: "d", size: 4, wantOK: true, want: []string{"d", "a", "c"}, wantLen: 10},
		// Replacing a key frees its old size first.
		{op: "add", key: "c", size: 1, wantOK: true, want: []string{"c", "d", "a"}, wantLen: 8},
		// An item bigger than the whole budget is skipped and drops the stale entry.
		{op: "add", key: "a", size: 11, wantOK: false, want: []string{"c", "d"}, wantLen: 5},
		// An item of exactly the budget evicts everything else.
		{op: "add", key: "e", size: 10, wantOK: true, want: []string{"e"}, wantLen: 10},
	} {
		var ok bool
		switch s.op {
		case "add":
			ok = l.add(s.key, i, s.size)
		case "get":
			_, ok = l.get(s.key)
		}
		if ok != s.wantOK {
			t.Errorf("step %d: %s(%q) = %v, want %v", i, s.op, s.key, ok, s.wantOK)
		}
		if got := l.keys(); !slices.Equal(got, s.want) {
			t.Errorf("step %d: keys %v, want %v", i, got, s.want)
		}
		if l.bytes != s.wantLen || len(l.items) != len(s.want) {
			t.Errorf("step %d: %d bytes in %d items, want %d in %d", i, l.bytes, len(l.items), s.wantLen, len(s.want))
		}
	}
	st := l.stats()
	if st.Evictions != 3 || st.SkippedItems != 1 {
		t.Errorf("stats %+v, want 3 evictions (b, c, d) and 1 skipped", st)
	}
}

func TestMemoryByteAccounting(t *testing.T) {
	ctx := context.Background()
	c := newMemory("memory", 100, 1)
	c.Set(ctx, map[string][]byte{"key1": make([]byte, 36)}, 0) // 40
	c.Set(ctx, map[string][]byte{"key2": make([]byte, 46)}, 0) // 50
	if st := c.Stats(); st.Bytes != 90 || st.Items != 2 {
		t.Fatalf("stats %+v, want 90 bytes in 2 items", st)
	}
	c.Get(ctx, []string{"key1"})                               // key2 is now the least recently used
	c.Set(ctx, map[string][]byte{"key3": make([]byte, 16)}, 0) // 20: key2 goes
	if st := c.Stats(); st.Bytes != 60 || st.Items != 2 || st.Evictions != 1 {
		t.Fatalf("stats %+v, want 60 bytes in 2 items after 1 eviction", st)
	}
	if hits := c.Get(ctx, []string{"key1", "key2", "key3"}); len(hits) != 2 || hits["key2"] != nil {
		t.Errorf("hits %v, want key1 and key3", slices.Collect(func(yield func(string) bool) {
			for k := range hits {
				yield(k)
			}
		}))
	}
}

func TestMemoryShardBudgets(t *testing.T) {
	for _, tc := range []struct {
		maxBytes   int64
		wantShards int
	}{
		{0, 1},
		{1 << 20, 1},
		{64 << 20, 2},
		{256 << 20, 8},
		{4 << 30, maxShards},
	} {
		c := NewMemory("memory", tc.maxBytes)
		if len(c.shards) != tc.wantShards {
			t.Errorf("NewMemory(%d) has %d shards, want %d", tc.maxBytes, len(c.shards), tc.wantShards)
		}
		if st := c.Stats(); st.MaxBytes != tc.maxBytes {
			t.Errorf("NewMemory(%d): shard budgets sum to %d", tc.maxBytes, st.MaxBytes)
		}
	}
	if st := newMemory("memory", 10, 4).Stats(); st.MaxBytes != 10 {
		t.Errorf("uneven budgets sum to %d, want 10", st.MaxBytes)
	}
}

func TestMemoryZeroSizeHoldsNothing(t *testing.T) {
	c := NewMemory("memory", 0)
	c.Set(context.Background(), map[string][]byte{"k": nil}, 0)
	if hits := c.Get(context.Background(), []string{"k"}); len(hits) != 0 {
		t.Errorf("a 0-byte cache returned %v", hits)
	}
}

func TestMemoryExpiry(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1000, 0)
	c := newMemory("memory", 1<<10, 1)
	c.now = func() time.Time { return now }
	c.Set(ctx, map[string][]byte{"short": []byte("s")}, time.Minute)
	c.Set(ctx, map[string][]byte{"forever": []byte("f")}, 0)
	now = now.Add(time.Minute - time.Nanosecond)
	if hits := c.Get(ctx, []string{"short", "forever"}); len(hits) != 2 {
		t.Fatalf("before expiry: %d hits, want 2", len(hits))
	}
	now = now.Add(time.Nanosecond)
	if hits := c.Get(ctx, []string{"short", "forever"}); len(hits) != 1 || hits["forever"] == nil {
		t.Fatalf("at expiry: hits %v, want only forever", hits)
	}
	if st := c.Stats(); st.Items != 1 || st.Bytes != int64(len("forever")+1) || st.Evictions != 1 {
		t.Errorf("an expired entry was not freed: %+v", st)
	}
}

// fakeObject is sized by its field, so tests choose sizes directly.
type fakeObject struct{ size int64 }

func fakeSize(o *fakeObject) int64 { return o.size }

func TestObjectLRU(t *testing.T) {
	c := NewObjectLRU[uint64](100, fakeSize)
	a, b, d := &fakeObject{40}, &fakeObject{40}, &fakeObject{30}
	c.Add(1, a)
	c.Add(2, b)
	if got, ok := c.Get(1); !ok || got != a {
		t.Fatalf("Get(1) = %v, %v", got, ok)
	}
	c.Add(3, d) // 110 > 100: 2 is the least recently used
	if _, ok := c.Get(2); ok {
		t.Error("the least recently used object was kept")
	}
	for _, k := range []uint64{1, 3} {
		if _, ok := c.Get(k); !ok {
			t.Errorf("object %d was evicted", k)
		}
	}
	if st := c.Stats(); st.Bytes != 70 || st.Items != 2 || st.Evictions != 1 {
		t.Errorf("stats %+v, want 70 bytes in 2 items after 1 eviction", st)
	}
	c.Add(4, &fakeObject{101})
	if _, ok := c.Get(4); ok {
		t.Error("an object larger than the bound was kept")
	}
	if got, ok := c.Get(99); ok || got != nil {
		t.Errorf("Get of an unknown key = %v, %v", got, ok)
	}
}

func TestObjectLRUConcurrent(t *testing.T) {
	c := NewObjectLRU[uint64](1000, fakeSize)
	done := make(chan struct{})
	for w := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range 1000 {
				k := uint64((w + i) % 50)
				if o, ok := c.Get(k); ok && o.size != int64(k) {
					t.Errorf("Get(%d) returned an object of size %d", k, o.size)
					return
				}
				c.Add(k, &fakeObject{int64(k)})
			}
		}()
	}
	for range 4 {
		<-done
	}
	if st := c.Stats(); st.Bytes > 1000 {
		t.Errorf("%d bytes held, bound is 1000", st.Bytes)
	}
}

func TestScope(t *testing.T) {
	shared := NewObjectLRU[ScopedKey[string, uint64]](100, fakeSize)
	blockA, blockB := Scope[string, uint64, *fakeObject](shared, "A"), Scope[string, uint64, *fakeObject](shared, "B")
	a, b := &fakeObject{1}, &fakeObject{2}
	blockA.Add(7, a)
	blockB.Add(7, b)
	if got, _ := blockA.Get(7); got != a {
		t.Errorf("block A sees %v, want its own object", got)
	}
	if got, _ := blockB.Get(7); got != b {
		t.Errorf("block B sees %v, want its own object", got)
	}
	if st := shared.Stats(); st.Items != 2 || st.Bytes != 3 {
		t.Errorf("shared stats %+v, want 2 items, 3 bytes", st)
	}
}
