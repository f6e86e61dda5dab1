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
			name string
			max  int
			caps []int
			kept int
		}{
			{"at most Max", 2, []int{10, 20, 30}, 2},
			{"Max 0 keeps none", 0, []int{10}, 0},
			{"empty buffers are not kept", 2, []int{0, 0}, 0},
			{"largest kept", 2, []int{maxKeptBuffer}, 1},
			{"too large", 2, []int{maxKeptBuffer + 1, 10}, 1},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				b := &Buffers{Max: c.max}
				for _, n := range c.caps {
					b.put(make([]byte, 0, n))
				}
				kept := 0
				for b.get() != nil {
					kept++
				}
				if kept != c.kept {
					t.Errorf("kept %d buffers, want %d", kept, c.kept)
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
// buffer may be lent twice before it is given back. Run with -race.
func TestBuffersConcurrent(t *testing.T) {
	b := &Buffers{Max: 3}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				buf := append(b.get(), make([]byte, 64+i%7)...)
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
			}
		}()
	}
	wg.Wait()
	if len(b.free) > b.Max {
		t.Errorf("kept %d buffers, Max %d", len(b.free), b.Max)
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
		{"Parents", p.Parents, want.Parents},
		{"NodeLocations", p.NodeLocations, want.NodeLocations},
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
// must be the same. Run with -race.
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
	bufs := &Buffers{Max: 4}
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
}
