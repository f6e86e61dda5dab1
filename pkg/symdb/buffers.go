package symdb

import "sync"

// DefaultBufferBytes is what a Buffers keeps in all when its MaxBytes is
// 0. A partition load holds one buffer at a time; on the bench bucket
// (about 26 000 locations a block in 8 partitions) the largest is the
// 440 KB of a partition's stack-trace chunks, so 4 MiB lets eight loads
// at once reuse their scratch.
const DefaultBufferBytes = 4 << 20

// Buffers is scratch that partition loads borrow and give back: the bytes
// that column chunks and stack-trace chunks are read into. One Buffers
// serves every Reader given it (see WithBuffers), so that a process keeps
// one bounded set of scratch however many blocks it has open.
//
// It keeps at most Max buffers, whose capacities add up to at most
// MaxBytes (DefaultBufferBytes when MaxBytes is 0). A buffer given back
// when there is no room is left to the collector: a rare large load does
// not pin its size for good. The zero value, and a nil *Buffers, keep
// nothing: every load allocates its scratch. It is safe for concurrent
// use.
type Buffers struct {
	Max      int
	MaxBytes int

	mu    sync.Mutex
	free  [][]byte
	bytes int // the capacities of free, added up
}

// get returns an empty byte buffer, with room left by its last user
// when there is one.
func (b *Buffers) get() []byte {
	if b == nil {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	n := len(b.free)
	if n == 0 {
		return nil
	}
	buf := b.free[n-1]
	b.free[n-1] = nil
	b.free = b.free[:n-1]
	b.bytes -= cap(buf)
	return buf
}

// put gives back a buffer from get, or the larger one it grew into, and
// reports whether it was kept.
//
// NOTE: nothing may read or write buf once it is given back, even when
// it was not kept.
func (b *Buffers) put(buf []byte) bool {
	if b == nil || cap(buf) == 0 {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.free) >= b.Max || b.bytes+cap(buf) > b.maxBytes() {
		return false
	}
	b.free = append(b.free, buf[:0])
	b.bytes += cap(buf)
	return true
}

// putEither gives back grown, the buffer that borrowed grew into, or
// borrowed itself when there is no room for grown.
func (b *Buffers) putEither(borrowed, grown []byte) {
	if !b.put(grown) && cap(borrowed) != cap(grown) {
		b.put(borrowed)
	}
}

func (b *Buffers) maxBytes() int {
	if b.MaxBytes == 0 {
		return DefaultBufferBytes
	}
	return b.MaxBytes
}
