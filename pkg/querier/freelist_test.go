package querier

import (
	"runtime"
	"testing"
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
