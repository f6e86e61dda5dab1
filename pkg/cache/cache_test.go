package cache

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestMemoryAcceptance(t *testing.T) {
	t.Run("sharded", func(t *testing.T) {
		c := NewMemory("memory", 1<<30)
		if len(c.shards) < 2 {
			t.Fatalf("a 1 GiB cache has %d shards, want several", len(c.shards))
		}
		testAcceptance(t, c, acceptance{tooLarge: int(1<<30/len(c.shards)) + 1})
	})
	t.Run("one shard", func(t *testing.T) {
		testAcceptance(t, NewMemory("memory", 1<<20), acceptance{tooLarge: 1<<20 + 1})
	})
	t.Run("instrumented", func(t *testing.T) {
		c := Instrument(NewMemory("memory", 1<<20), prometheus.NewRegistry())
		testAcceptance(t, c, acceptance{tooLarge: 1<<20 + 1})
	})
}

func TestMemcachedAcceptance(t *testing.T) {
	addr := startMemcached(t)
	const maxItemSize = 64 << 10
	newMemcached := func(t *testing.T) *Memcached {
		c, err := NewMemcached("memcached", memcachedConfig(addr, maxItemSize), slog.New(slog.DiscardHandler), prometheus.NewRegistry())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	t.Run("plain", func(t *testing.T) {
		testAcceptance(t, newMemcached(t), acceptance{tooLarge: maxItemSize + 1})
	})
	t.Run("instrumented", func(t *testing.T) {
		testAcceptance(t, Instrument(newMemcached(t), prometheus.NewRegistry()), acceptance{tooLarge: maxItemSize + 1})
	})
}

func TestNoop(t *testing.T) {
	var c Cache = Noop{}
	c.Set(context.Background(), map[string][]byte{"k": []byte("v")}, 0)
	if hits := c.Get(context.Background(), []string{"k"}); len(hits) != 0 {
		t.Errorf("Noop returned hits %v", hits)
	}
}

func TestMemcachedUnreachable(t *testing.T) {
	// A dead server must read as misses, not as errors or hangs.
	cfg := memcachedConfig("127.0.0.1:1", 0)
	cfg.Timeout, cfg.ConnectTimeout = 100*time.Millisecond, 100*time.Millisecond
	c, err := NewMemcached("memcached", cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Set(context.Background(), map[string][]byte{"k": []byte("v")}, 0)
	if hits := c.Get(context.Background(), []string{"k"}); len(hits) != 0 {
		t.Errorf("Get from an unreachable server = %v", hits)
	}
}

func TestMemcachedKey(t *testing.T) {
	for _, tc := range []struct {
		key    string
		hashed bool
	}{
		{"block/01H/profiles.parquet/footer", false},
		{string(make([]byte, 250)), true},
		{"a b", true},
		{"", true},
		{"tab\t", true},
		{"del\x7f", true},
	} {
		got := memcachedKey(tc.key)
		if (got != tc.key) != tc.hashed {
			t.Errorf("memcachedKey(%q) = %q, hashed want %v", tc.key, got, tc.hashed)
		}
		if len(got) > memcachedMaxKeyLength {
			t.Errorf("memcachedKey(%q) is %d bytes long", tc.key, len(got))
		}
	}
	if memcachedKey("a b") == memcachedKey("a  b") {
		t.Error("two keys share a digest")
	}
}

func TestMemcachedTTL(t *testing.T) {
	for _, tc := range []struct{ in, want time.Duration }{
		{0, 0},
		{-time.Second, 0},
		{time.Millisecond, time.Second},
		{1500 * time.Millisecond, 2 * time.Second},
		{time.Hour, time.Hour},
		{365 * 24 * time.Hour, memcachedMaxTTL},
	} {
		if got := memcachedTTL(tc.in); got != tc.want {
			t.Errorf("memcachedTTL(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
