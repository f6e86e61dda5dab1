package bucket

import (
	"cmp"
	"slices"
	"sort"

	"github.com/oklog/ulid/v2"

	"github.com/cinder-profiling/cinder/pkg/blockreader"
	"github.com/cinder-profiling/cinder/pkg/symdb"
)

// Block is one loaded, validated block of one tenant.
//
// NOTE: a Block is shared by every snapshot and every query that sees it and
// is never modified after loading, except for the readers it opens lazily
// under its own lock; callers must not modify it.
type Block struct {
	Meta   *blockreader.Meta
	Index  *blockreader.IndexReader
	Tenant string
	// Files reads the block's other files (those meta.json lists) from the
	// bucket with ranged reads.
	Files blockreader.BlockFiles

	readers       blockReaders
	partitions    PartitionCache
	symbolBuffers *symdb.Buffers
	readAhead     int64 // of profiles.parquet's column readers; 0 for the default
}

// ID returns the block's ULID.
func (b *Block) ID() ulid.ULID { return b.Meta.ULID }

// Dir returns the block's object prefix, "<tenant>/phlaredb/<ULID>", without
// a trailing slash. A block file is at Dir() + "/" + relPath, with relPath
// taken from Meta.Files.
func (b *Block) Dir() string { return blockDir(b.Tenant, b.Meta.ULID) }

// compareBlocks orders blocks by MinTime, then ULID.
func compareBlocks(a, b *Block) int {
	if c := cmp.Compare(a.Meta.MinTime, b.Meta.MinTime); c != 0 {
		return c
	}
	return a.Meta.ULID.Compare(b.Meta.ULID)
}

// snapshot is one immutable view of every tenant's visible blocks. A sync
// builds a new one and swaps it in; readers never lock.
type snapshot struct {
	tenants []string            // sorted
	blocks  map[string][]*Block // per tenant, non-empty, sorted by compareBlocks
}

func newSnapshot(blocks []*Block) *snapshot {
	s := &snapshot{blocks: make(map[string][]*Block)}
	for _, b := range blocks {
		s.blocks[b.Tenant] = append(s.blocks[b.Tenant], b)
	}
	for t, bs := range s.blocks {
		slices.SortFunc(bs, compareBlocks)
		s.tenants = append(s.tenants, t)
	}
	slices.Sort(s.tenants)
	return s
}

// overlapping returns the tenant's blocks that hold data in the inclusive
// range [start, end] (ms), in snapshot order.
func (s *snapshot) overlapping(tenant string, start, end int64) []*Block {
	bs := s.blocks[tenant]
	// Blocks are sorted by MinTime, so the ones starting after end form a
	// suffix; only MaxTime needs checking in the rest.
	n := sort.Search(len(bs), func(i int) bool { return int64(bs[i].Meta.MinTime) > end })
	var out []*Block
	for _, b := range bs[:n] {
		if b.Meta.Overlaps(start, end) {
			out = append(out, b)
		}
	}
	return out
}
