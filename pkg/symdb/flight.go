package symdb

import (
	"context"
	"errors"
	"sync"
)

// flightGroup loads each key once at a time: concurrent callers for the
// same key wait for the first one's load instead of repeating it.
type flightGroup[K comparable, V any] struct {
	mu    sync.Mutex
	calls map[K]*flightCall[V]
}

type flightCall[V any] struct {
	done chan struct{}
	v    V
	err  error
}

// do returns the value cached for key (lookup) or loads it and hands it to
// store. A waiter whose leader failed only because the leader's context
// ended loads again with its own context. Errors are not cached.
func (g *flightGroup[K, V]) do(ctx context.Context, key K, lookup func() (V, bool), load func(context.Context) (V, error), store func(V)) (V, error) {
	for {
		if v, ok := lookup(); ok {
			return v, nil
		}
		g.mu.Lock()
		// Look again under the lock: a load may have finished meanwhile.
		if v, ok := lookup(); ok {
			g.mu.Unlock()
			return v, nil
		}
		c, ok := g.calls[key]
		if !ok {
			c = &flightCall[V]{done: make(chan struct{})}
			if g.calls == nil {
				g.calls = make(map[K]*flightCall[V])
			}
			g.calls[key] = c
			g.mu.Unlock()
			g.run(ctx, key, c, load, store)
			return c.v, c.err
		}
		g.mu.Unlock()
		select {
		case <-c.done:
		case <-ctx.Done():
			var zero V
			return zero, ctx.Err()
		}
		if c.err != nil && isContextError(c.err) && ctx.Err() == nil {
			continue
		}
		return c.v, c.err
	}
}

func (g *flightGroup[K, V]) run(ctx context.Context, key K, c *flightCall[V], load func(context.Context) (V, error), store func(V)) {
	defer func() {
		g.mu.Lock()
		delete(g.calls, key)
		g.mu.Unlock()
		close(c.done)
	}()
	// Should load panic, waiters must not take the zero value for a result.
	c.err = errLoadPanicked
	c.v, c.err = load(ctx)
	if c.err == nil {
		store(c.v)
	}
}

var errLoadPanicked = errors.New("symdb: load panicked")

func isContextError(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// lazy holds one value that is loaded on first use and kept; a failed load
// is retried by the next caller.
type lazy[V any] struct {
	mu     sync.Mutex
	v      V
	loaded bool
	group  flightGroup[struct{}, V]
}

func (l *lazy[V]) get(ctx context.Context, load func(context.Context) (V, error)) (V, error) {
	return l.group.do(ctx, struct{}{},
		func() (V, bool) {
			l.mu.Lock()
			defer l.mu.Unlock()
			return l.v, l.loaded
		},
		load,
		func(v V) {
			l.mu.Lock()
			l.v, l.loaded = v, true
			l.mu.Unlock()
		},
	)
}

// mapCache is the default PartitionCache: it keeps every partition.
type mapCache struct {
	mu sync.Mutex
	m  map[uint64]*Partition
}

func (c *mapCache) Get(key uint64) (*Partition, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.m[key]
	return p, ok
}

func (c *mapCache) Add(key uint64, p *Partition) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[uint64]*Partition)
	}
	c.m[key] = p
}
