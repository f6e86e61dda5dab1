package querier

import (
	"runtime"
	"testing"
	"weak"
)

func TestFreeList(t *testing.T) {
	l := freeList[*int]{max: 2}
	if _, ok := l.get(); ok {
		t.Fatal("an empty list gave a value")
	}
	a, b, c := new(int), new(int), new(int)
	l.put(a)
	l.put(b)
	l.put(c) // over max: dropped
	// Unlike a sync.Pool, collections leave the values in place.
	runtime.GC()
	runtime.GC()
	if v, ok := l.get(); !ok || v != b {
		t.Fatalf("first get = %p, %v; want the value put last", v, ok)
	}
	if v, ok := l.get(); !ok || v != a {
		t.Fatalf("second get = %p, %v; want the value put first", v, ok)
	}
	if v, ok := l.get(); ok {
		t.Fatalf("third get = %p: a value over max was kept", v)
	}
	var zero freeList[*int]
	zero.put(a)
	if _, ok := zero.get(); ok {
		t.Fatal("the zero value kept a value")
	}
}

func TestSumArrays(t *testing.T) {
	p := &sumArrays{maxBytes: 8 * 300}
	small, big := p.get(100), p.get(200)
	if len(small) != 100 || len(big) != 200 {
		t.Fatalf("lengths %d and %d, want 100 and 200", len(small), len(big))
	}
	small[3], big[7] = 5, 9
	p.put(big)
	p.put(small)
	p.put(make([]int64, 10)) // over maxBytes: dropped
	runtime.GC()
	runtime.GC()
	// The smallest array that fits is lent, zeroed.
	if a := p.get(50); cap(a) != cap(small) || a[3] != 0 {
		t.Errorf("get(50) lent an array of capacity %d (want %d) with a[3] = %d", cap(a), cap(small), a[3])
	}
	if a := p.get(150); cap(a) != cap(big) || len(a) != 150 || a[7] != 0 {
		t.Errorf("get(150) lent an array of capacity %d, length %d (want %d, 150) with a[7] = %d", cap(a), len(a), cap(big), a[7])
	}
	if len(p.free) != 0 || p.bytes != 0 {
		t.Errorf("%d arrays (%d bytes) left after lending both", len(p.free), p.bytes)
	}
	var none *sumArrays
	if a := none.get(4); len(a) != 4 {
		t.Errorf("a nil sumArrays allocated %d sums, want 4", len(a))
	}
}

func TestFreeListDropsIdleValues(t *testing.T) {
	c := &gcClock{}
	var l freeList[*int]
	l.withClock(c, 3)
	old, fresh := new(int), new(int)
	l.put(old)
	c.tick() // old has sat idle through one collection: kept
	l.put(fresh)
	if len(l.items) != 2 {
		t.Fatalf("%d values kept after one collection, want 2", len(l.items))
	}
	for range idleCollections - 1 {
		c.tick()
	}
	// old has sat idle through idleCollections, fresh through one fewer.
	if v, ok := l.get(); !ok || v != fresh {
		t.Fatalf("get = %p, %v; want the value put after the first collection", v, ok)
	}
	if v, ok := l.get(); ok {
		t.Fatalf("get = %p: a value idle through %d collections was kept", v, idleCollections)
	}
	// A value taken and put back is idle from then on.
	l.put(old)
	for range idleCollections - 1 {
		c.tick()
	}
	v, _ := l.get()
	l.put(v)
	for range idleCollections - 1 {
		c.tick()
	}
	if _, ok := l.get(); !ok {
		t.Fatalf("a value put back after %d collections was dropped %d after", idleCollections-1, idleCollections-1)
	}
}

func TestGCClockTicksAfterCollections(t *testing.T) {
	c := newGCClock()
	var l freeList[*int]
	l.withClock(c, 1)
	l.put(new(int))
	// Cleanups run on their own goroutine once a collection has swept the
	// sentinel; each loop collects again until the clock has counted two.
	for i := 0; i < 1000 && c.now() < idleCollections+1; i++ {
		runtime.GC()
		runtime.Gosched()
	}
	if g := c.now(); g < idleCollections+1 {
		t.Fatalf("the clock counted %d collections after a thousand", g)
	}
	l.mu.Lock()
	n := len(l.items)
	l.mu.Unlock()
	if n != 0 {
		t.Errorf("%d values kept after %d collections", n, c.now())
	}
}

func TestGCClockStopsWithItsOwner(t *testing.T) {
	c := newGCClock()
	var l freeList[*int]
	l.withClock(c, 1)
	w := weak.Make(c)
	c = nil
	for i := 0; i < 1000 && w.Value() != nil; i++ {
		runtime.GC()
		runtime.Gosched()
	}
	if w.Value() != nil {
		t.Fatal("the clock is kept alive by its own cleanups")
	}
}
