package symdb

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"testing"
)

func TestBuffersBytes(t *testing.T) {
	t.Run("reuse", func(t *testing.T) {
		b := &Buffers{Max: 2}
		if buf := b.get(); buf != nil {
			t.Fatalf("empty Buffers lent %d bytes", cap(buf))
		}
		buf := append(b.get(), "abc"...)
		b.put(buf)
		got := b.get()
		if len(got) != 0 || cap(got) != cap(buf) || &got[:1][0] != &buf[0] {
			t.Fatalf("got len %d cap %d, want the buffer given back, emptied", len(got), cap(got))
		}
		if again := b.get(); again != nil {
			t.Fatalf("one buffer given back, two lent")
		}
	})
	t.Run("bounds", func(t *testing.T) {
		cases := []struct {
			name      string
			max       int
			maxBytes  int
			caps      []int
			keptCaps  []int // in the order get lends them
			keptBytes int
		}{
			{"at most Max", 2, 0, []int{10, 20, 30}, []int{20, 10}, 30},
			{"Max 0 keeps none", 0, 0, []int{10}, nil, 0},
			{"empty buffers are not kept", 2, 0, []int{0, 0}, nil, 0},
			{"at most MaxBytes", 10, 100, []int{60, 50, 40, 1}, []int{40, 60}, 100},
			{"larger than MaxBytes", 10, 100, []int{101, 100}, []int{100}, 100},
			{"DefaultBufferBytes when MaxBytes is 0", 10, 0, []int{DefaultBufferBytes, 1}, []int{DefaultBufferBytes}, DefaultBufferBytes},
			{"more than DefaultBufferBytes", 10, 0, []int{DefaultBufferBytes + 1, 10}, []int{10}, 10},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				b := &Buffers{Max: c.max, MaxBytes: c.maxBytes}
				for _, n := range c.caps {
					b.put(make([]byte, 0, n))
				}
				if b.bytes != c.keptBytes {
					t.Errorf("counts %d bytes kept, want %d", b.bytes, c.keptBytes)
				}
				var kept []int
				for buf := b.get(); buf != nil; buf = b.get() {
					kept = append(kept, cap(buf))
				}
				if !reflect.DeepEqual(kept, c.keptCaps) {
					t.Errorf("kept buffers of %v bytes, want %v", kept, c.keptCaps)
				}
				if b.bytes != 0 {
					t.Errorf("counts %d bytes kept after lending every buffer", b.bytes)
				}
			})
		}
	})
	t.Run("lending makes room", func(t *testing.T) {
		b := &Buffers{Max: 10, MaxBytes: 100}
		b.put(make([]byte, 0, 80))
		if b.put(make([]byte, 0, 40)) {
			t.Fatal("kept 120 bytes, MaxBytes 100")
		}
		buf := b.get()
		if !b.put(make([]byte, 0, 40)) || !b.put(buf[:0:50]) {
			t.Fatalf("did not keep 40 + 50 bytes once the 80 were lent")
		}
	})
	t.Run("putEither", func(t *testing.T) {
		cases := []struct {
			name            string
			borrowed, grown int // capacities; grown 0 is the borrowed buffer itself
			keptCap         int // 0: nothing kept
		}{
			{"grown fits", 10, 60, 60},
			{"borrowed kept when grown does not fit", 10, 200, 10},
			{"not grown", 10, 0, 10},
			{"nothing borrowed", 0, 60, 60},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				b := &Buffers{Max: 2, MaxBytes: 100}
				borrowed := make([]byte, 0, c.borrowed)
				grown := borrowed
				if c.grown > 0 {
					grown = make([]byte, c.grown)
				}
				b.putEither(borrowed, grown)
				var kept []int
				for buf := b.get(); buf != nil; buf = b.get() {
					kept = append(kept, cap(buf))
				}
				if want := []int{c.keptCap}; !reflect.DeepEqual(kept, want) {
					t.Errorf("kept %v, want %v", kept, want)
				}
			})
		}
	})
	t.Run("nil and zero value keep nothing", func(t *testing.T) {
		for _, b := range []*Buffers{nil, {}} {
			b.put(make([]byte, 10))
			if buf := b.get(); buf != nil {
				t.Errorf("%#v lent a buffer of %d bytes", b, cap(buf))
			}
		}
	})
}

// TestBuffersConcurrent lends buffers to many goroutines at once; no
// buffer may be lent twice before it is given back, and the bounds hold
// throughout. Run with -race.
func TestBuffersConcurrent(t *testing.T) {
	// Max lets three buffers in, MaxBytes two of those lent below.
	b := &Buffers{Max: 3, MaxBytes: 150}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				buf := b.get()
				if buf == nil {
					buf = make([]byte, 0, 64)
				}
				buf = buf[:64-i%7]
				for j := range buf {
					buf[j] = byte(g)
				}
				for j := range buf {
					if buf[j] != byte(g) {
						t.Errorf("goroutine %d: byte %d is %d: the buffer is lent twice", g, j, buf[j])
						return
					}
				}
				b.put(buf)
				if i%50 == 0 {
					b.checkBounds(t)
				}
			}
		}()
	}
	wg.Wait()
	b.checkBounds(t)
	for range 3 {
		b.put(make([]byte, 0, 64))
	}
	b.checkBounds(t)
}

// checkBounds fails t unless b keeps within its bounds and counts the
// bytes it keeps right.
func (b *Buffers) checkBounds(t *testing.T) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	total := 0
	for _, buf := range b.free {
		total += cap(buf)
	}
	if total != b.bytes {
		t.Errorf("keeps %d bytes, counts %d", total, b.bytes)
	}
	if len(b.free) > b.Max || total > b.maxBytes() {
		t.Errorf("keeps %d buffers of %d bytes in all; Max %d, MaxBytes %d", len(b.free), total, b.Max, b.maxBytes())
	}
}

// poison overwrites the bytes of every kept buffer, so that a load that
// read what a previous one left behind gives a different partition.
func (b *Buffers) poison() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, buf := range b.free {
		buf = buf[:cap(buf)]
		for i := range buf {
			buf[i] = 0xa5
		}
	}
}

// samePartition reports how p differs from want, or "".
func samePartition(p, want *Partition) string {
	fields := []struct {
		name      string
		got, want any
	}{
		{"Key", p.Key, want.Key},
		{"Parents", p.Tree.AppendParents(nil), want.Tree.AppendParents(nil)},
		{"NodeLocations", p.Tree.AppendLocations(nil), want.Tree.AppendLocations(nil)},
		{"Locations", p.Locations, want.Locations},
		{"Functions", p.Functions, want.Functions},
		{"Mappings", p.Mappings, want.Mappings},
		{"Strings", p.Strings, want.Strings},
		{"ids", p.ids, want.ids},
		{"SizeBytes", p.SizeBytes(), want.SizeBytes()},
	}
	for _, f := range fields {
		if !reflect.DeepEqual(f.got, f.want) {
			return f.name + " differs"
		}
	}
	return ""
}

// TestBuffersSamePartitions loads every partition of the shared blocks
// twice: alone, and through readers that share one Buffers, concurrently,
// with what earlier loads left in the buffers overwritten. The partitions
// must be the same, and the Buffers within its bounds. Run with -race.
func TestBuffersSamePartitions(t *testing.T) {
	type source struct {
		name string
		open func(tb testing.TB, opts ...Option) *Reader
	}
	var sources []source
	for _, b := range testBlocks {
		sources = append(sources, source{b.ulid, func(tb testing.TB, opts ...Option) *Reader {
			return openTestBlock(tb, b, opts...)
		}})
	}
	for _, name := range []string{"v2", "v3"} { // v1 has no symbol tables
		sources = append(sources, source{"symdb/" + name, func(tb testing.TB, opts ...Option) *Reader {
			r := openSymdbDir(tb, name)
			for _, o := range opts {
				o(r)
			}
			return r
		}})
	}

	type loaded struct {
		source string
		key    uint64
		want   *Partition
	}
	var all []loaded
	readers := make(map[string]*Reader)
	// Small enough that loads of the larger blocks find no room for what
	// they grew into, and give back the buffer they borrowed instead.
	bufs := &Buffers{Max: 4, MaxBytes: 512 << 10}
	for _, s := range sources {
		r := s.open(t)
		for _, key := range r.PartitionKeys() {
			all = append(all, loaded{s.name, key, mustPartition(t, r, key)})
		}
		readers[s.name] = s.open(t, WithBuffers(bufs), WithPartitionCache(noCache{}))
	}

	for round := range 2 {
		var wg sync.WaitGroup
		errs := make(chan error, len(all))
		for g := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := g; i < len(all); i += 3 {
					l := all[i]
					bufs.poison()
					p, err := readers[l.source].Partition(context.Background(), l.key)
					if err != nil {
						errs <- fmt.Errorf("%s, partition %d: %w", l.source, l.key, err)
						continue
					}
					if diff := samePartition(p, l.want); diff != "" {
						errs <- fmt.Errorf("round %d: %s, partition %d: %s", round, l.source, l.key, diff)
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	}
	if len(bufs.free) == 0 {
		t.Error("the loads gave back no buffer: Buffers is not used")
	}
	bufs.checkBounds(t)
}
