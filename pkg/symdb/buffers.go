package symdb

import "sync"

// maxKeptBuffer is the largest byte buffer Buffers keeps. A partition whose
// column chunks or stack-trace chunks are larger gets a buffer of its own,
// which the collector frees: a rare load should not pin its size for good.
const maxKeptBuffer = 8 << 20

// Buffers is scratch that partition loads borrow and give back: the bytes
// that column chunks and stack-trace chunks are read into. One Buffers
// serves every Reader given it (see WithBuffers), so that a process keeps
// one bounded set of scratch however many blocks it has open.
//
// It keeps at most Max buffers, none larger than 8 MiB. The zero value, and
// a nil *Buffers, keep nothing: every load allocates its scratch. It is
// safe for concurrent use.
type Buffers struct {
	Max int

	mu   sync.Mutex
	free [][]byte
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
	return buf
}

// put gives back a buffer from get, or the larger one it grew
// into.
//
// NOTE: nothing may read or write buf once it is given back.
func (b *Buffers) put(buf []byte) {
	if b == nil || cap(buf) == 0 || cap(buf) > maxKeptBuffer {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.free) < b.Max {
		b.free = append(b.free, buf[:0])
	}
}
