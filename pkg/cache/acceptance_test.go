package cache

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// acceptance describes what a Cache under the acceptance test is allowed
// to do beyond the Cache contract's minimum.
type acceptance struct {
	// tooLarge is the size of a value the cache must skip (not store, not
	// fail on); 0 skips the check.
	tooLarge int
}

// visibleWithin bounds how long an asynchronous Set may take to show.
const visibleWithin = 5 * time.Second

// testAcceptance is run against every Cache implementation. Keys are
// prefixed with the test's name so that implementations sharing a backend
// do not see each other's entries.
func testAcceptance(t *testing.T, c Cache, opts acceptance) {
	ctx := context.Background()
	key := func(t *testing.T, k string) string { return t.Name() + "/" + k }

	t.Run("set and get", func(t *testing.T) {
		items := map[string][]byte{
			key(t, "footer"):     []byte("PAR1 footer bytes"),
			key(t, "page-index"): bytes.Repeat([]byte{0, 1, 2, 0xff}, 1000),
			key(t, "empty"):      {},
		}
		c.Set(ctx, items, 0)
		keys := []string{key(t, "footer"), key(t, "page-index"), key(t, "empty"), key(t, "absent")}
		hits := eventuallyGet(t, c, keys, 3)
		for k, want := range items {
			got, ok := hits[k]
			if !ok || !bytes.Equal(got, want) {
				t.Errorf("Get(%q) = %q, %v; want %q", k, truncate(got), ok, truncate(want))
			}
		}
		if _, ok := hits[key(t, "absent")]; ok {
			t.Errorf("Get returned a value for a key never set")
		}
	})

	t.Run("missing keys", func(t *testing.T) {
		if hits := c.Get(ctx, []string{key(t, "a"), key(t, "b")}); len(hits) != 0 {
			t.Errorf("Get of unknown keys = %v, want no hits", hits)
		}
		if hits := c.Get(ctx, nil); len(hits) != 0 {
			t.Errorf("Get(nil) = %v, want no hits", hits)
		}
		c.Set(ctx, nil, 0) // must not panic
	})

	t.Run("overwrite", func(t *testing.T) {
		k := key(t, "k")
		c.Set(ctx, map[string][]byte{k: []byte("v1")}, 0)
		eventuallyValue(t, c, k, "v1")
		c.Set(ctx, map[string][]byte{k: []byte("version two")}, 0)
		eventuallyValue(t, c, k, "version two")
	})

	t.Run("caller reuses buffers", func(t *testing.T) {
		k := key(t, "k")
		buf := []byte("original")
		c.Set(ctx, map[string][]byte{k: buf}, 0)
		copy(buf, "CLOBBER!")
		eventuallyValue(t, c, k, "original")
	})

	t.Run("keys memcached refuses as they are", func(t *testing.T) {
		items := map[string][]byte{
			key(t, strings.Repeat("long", 100)): []byte("long key"),
			key(t, "with spaces\r\n"):           []byte("spaces"),
			key(t, "ünïcödé"):                   []byte("unicode"),
			"":                                  []byte("empty key"),
		}
		keys := make([]string, 0, len(items))
		for k := range items {
			keys = append(keys, k)
		}
		c.Set(ctx, items, 0)
		hits := eventuallyGet(t, c, keys, len(items))
		for k, want := range items {
			if got := hits[k]; !bytes.Equal(got, want) {
				t.Errorf("Get(%q) = %q, want %q", k, got, want)
			}
		}
	})

	if opts.tooLarge > 0 {
		t.Run("too large values are skipped", func(t *testing.T) {
			big, small := key(t, "big"), key(t, "small")
			c.Set(ctx, map[string][]byte{big: make([]byte, opts.tooLarge), small: []byte("s")}, 0)
			eventuallyValue(t, c, small, "s")
			// Writes of one Set are not ordered; give the big one time too.
			time.Sleep(100 * time.Millisecond)
			if hits := c.Get(ctx, []string{big}); len(hits) != 0 {
				t.Errorf("a %d-byte value was stored", opts.tooLarge)
			}
		})
	}

	t.Run("ttl", func(t *testing.T) {
		short, forever := key(t, "short"), key(t, "forever")
		c.Set(ctx, map[string][]byte{forever: []byte("f")}, 0)
		c.Set(ctx, map[string][]byte{short: []byte("s")}, time.Second)
		eventuallyValue(t, c, forever, "f")
		deadline := time.Now().Add(5 * time.Second)
		for len(c.Get(ctx, []string{short})) != 0 {
			if time.Now().After(deadline) {
				t.Fatalf("an item set with a 1s ttl is still there after 5s")
			}
			time.Sleep(100 * time.Millisecond)
		}
		if hits := c.Get(ctx, []string{forever}); string(hits[forever]) != "f" {
			t.Errorf("an item without ttl expired")
		}
	})

	t.Run("concurrent use", func(t *testing.T) {
		// Every writer stores the same value for a key, so any hit must
		// be that value whatever the interleaving.
		value := func(i int) []byte { return bytes.Repeat([]byte{byte(i)}, 100+i) }
		const workers, ops, keys = 8, 200, 32
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := range ops {
					n := (w*7 + i) % keys
					k := key(t, fmt.Sprint(n))
					if i%3 == 0 {
						c.Set(ctx, map[string][]byte{k: value(n)}, 0)
						continue
					}
					for got, v := range c.Get(ctx, []string{k, key(t, fmt.Sprint((n+1)%keys))}) {
						var m int
						fmt.Sscan(strings.TrimPrefix(got, t.Name()+"/"), &m)
						if !bytes.Equal(v, value(m)) {
							t.Errorf("Get(%q) returned a value of length %d", got, len(v))
							return
						}
					}
				}
			})
		}
		wg.Wait()
	})
}

// eventuallyGet polls Get until it returns at least want hits.
func eventuallyGet(t *testing.T, c Cache, keys []string, want int) map[string][]byte {
	t.Helper()
	deadline := time.Now().Add(visibleWithin)
	for {
		hits := c.Get(context.Background(), keys)
		if len(hits) >= want || time.Now().After(deadline) {
			if len(hits) < want {
				t.Errorf("Get returned %d hits after %v, want %d", len(hits), visibleWithin, want)
			}
			return hits
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// eventuallyValue polls Get until key holds want.
func eventuallyValue(t *testing.T, c Cache, key, want string) {
	t.Helper()
	deadline := time.Now().Add(visibleWithin)
	for {
		got, ok := c.Get(context.Background(), []string{key})[key]
		if ok && string(got) == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Get(%q) = %q, %v after %v; want %q", key, truncate(got), ok, visibleWithin, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func truncate(b []byte) []byte {
	if len(b) > 32 {
		return b[:32]
	}
	return b
}
