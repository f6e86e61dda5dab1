package querier

import (
	"runtime"
	"sync"
	"weak"
)

// idleCollections is how many garbage collections a value may sit unused
// in a free list before the list drops it. Queries of one kind reuse what
// the last one left, while what another kind of query left (a profile
// builder during flame graphs, merge trees during merged profiles) stops
// being carried, and counted in the live heap that paces the collector,
// after four. With the headroom the memlimit defaults leave at the bench
// bucket's peak, a merged profile of all CPU is collected once or twice:
// at two, the builder was often dropped between two of them, and each
// merged profile after learnt its stacks again, at nearly twice the CPU.
const idleCollections = 4

// gcClock counts the garbage collections its owner lives through, and
// after each one has its free lists drop what sat idle through
// idleCollections of them. It holds its lists, not the other way round,
// and the collector only weakly: it stops counting once its owner is gone.
type gcClock struct {
	mu    sync.Mutex
	gen   uint64
	lists []idleDropper
}

// idleDropper is a free list kept by a gcClock.
type idleDropper interface {
	// dropIdle drops the values put at generation idleCollections or
	// more before gen.
	dropIdle(gen uint64)
}

// trimmer is a pool that drops what sat idle since it was last trimmed,
// trimmed at every collection: after two without use, what it held goes.
type trimmer func()

func (t trimmer) dropIdle(uint64) { t() }

// gcSentinel is allocated only to become garbage: its cleanup runs once a
// collection found it unreachable. The pointer keeps it out of the tiny
// allocator, whose blocks are freed together and late.
type gcSentinel struct {
	_ *byte
	_ [16]byte
}

// newGCClock returns a clock that ticks after every collection until it is
// garbage itself.
func newGCClock() *gcClock {
	c := &gcClock{}
	armGCClock(weak.Make(c))
	return c
}

func armGCClock(w weak.Pointer[gcClock]) {
	runtime.AddCleanup(new(gcSentinel), func(w weak.Pointer[gcClock]) {
		if c := w.Value(); c != nil {
			c.tick()
			armGCClock(w)
		}
	}, w)
}

// now returns the current generation: the collections counted so far.
func (c *gcClock) now() uint64 {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// keep has l drop idle values from now on.
func (c *gcClock) keep(l idleDropper) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lists = append(c.lists, l)
}

// tick counts a collection and has every list drop its idle values.
func (c *gcClock) tick() {
	c.mu.Lock()
	c.gen++
	gen, lists := c.gen, c.lists
	c.mu.Unlock()
	for _, l := range lists {
		l.dropIdle(gen)
	}
}
