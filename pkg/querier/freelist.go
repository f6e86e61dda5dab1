package querier

import "sync"

// freeList keeps up to max values for reuse. Unlike a sync.Pool it is not
// emptied by every garbage collection, which runs every few queries when
// the collector is paced by the live heap (see pkg/memlimit): a merge tree
// or a profile builder is worth reusing for the names, translations and
// tables it has grown, and only if it lasts from one query to the next.
// With a clock (see gcClock), a value that sat unused through
// idleCollections collections is dropped, so that the values of a kind of
// query no longer asked are not carried for ever. The zero value keeps
// nothing.
type freeList[T any] struct {
	mu    sync.Mutex
	items []freeItem[T]
	max   int
	clock *gcClock // nil: values stay until taken
}

// freeItem is a kept value and the clock's generation when it was put.
type freeItem[T any] struct {
	v   T
	gen uint64
}

// get returns the value put last, if any.
func (l *freeList[T]) get() (T, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var zero T
	n := len(l.items)
	if n == 0 {
		return zero, false
	}
	v := l.items[n-1].v
	l.items[n-1] = freeItem[T]{}
	l.items = l.items[:n-1]
	return v, true
}

// put keeps v unless max values are kept already.
func (l *freeList[T]) put(v T) {
	gen := l.clock.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.items) < l.max {
		l.items = append(l.items, freeItem[T]{v: v, gen: gen})
	}
}

// dropIdle drops the values put idleCollections or more generations
// before gen. Values are put in generation order, so they are the first.
func (l *freeList[T]) dropIdle(gen uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for n < len(l.items) && gen-l.items[n].gen >= idleCollections {
		n++
	}
	if n == 0 {
		return
	}
	k := copy(l.items, l.items[n:])
	clear(l.items[k:])
	l.items = l.items[:k]
}

// withClock has l drop values idle through idleCollections collections
// counted by c.
func (l *freeList[T]) withClock(c *gcClock, max int) {
	l.max = max
	l.clock = c
	c.keep(l)
}
