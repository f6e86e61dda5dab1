package querier

import "sync"

// freeList keeps up to max values for reuse. Unlike a sync.Pool it is not
// emptied by garbage collections, which run every few queries when the
// collector is paced by the live heap (see pkg/memlimit): a merge tree or
// a profile builder is worth reusing for the names, translations and
// tables it has grown, and only if it lasts from one query to the next.
// The zero value keeps nothing.
type freeList[T any] struct {
	mu    sync.Mutex
	items []T
	max   int
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
	v := l.items[n-1]
	l.items[n-1] = zero
	l.items = l.items[:n-1]
	return v, true
}

// put keeps v unless max values are kept already.
func (l *freeList[T]) put(v T) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.items) < l.max {
		l.items = append(l.items, v)
	}
}
