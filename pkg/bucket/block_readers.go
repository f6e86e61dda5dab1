package bucket

import (
	"context"
	"fmt"
	"runtime"
	"sync"

	"github.com/oklog/ulid/v2"

	"github.com/cinder-profiling/cinder/pkg/blockreader"
	"github.com/cinder-profiling/cinder/pkg/cache"
	"github.com/cinder-profiling/cinder/pkg/symdb"
)

// PartitionCache holds the decoded symbol partitions of every block within
// one bound; each block sees its own scope of it.
type PartitionCache = cache.ObjectCache[cache.ScopedKey[ulid.ULID, uint64], *symdb.Partition]

// SyncerOption configures a Syncer.
type SyncerOption func(*Syncer)

// WithPartitionCache bounds the symbol partitions that blocks keep decoded.
// Without it each block keeps every partition it has loaded.
func WithPartitionCache(c PartitionCache) SyncerOption {
	return func(s *Syncer) { s.partitions = c }
}

// WithByteCache keeps ranged reads of block files (footers, page indexes,
// pages and symbol data) in c: block files are immutable, so entries never
// go stale. With memcached, replicas and restarts share them.
func WithByteCache(c cache.Cache) SyncerOption {
	return func(s *Syncer) { s.byteCache = c }
}

// WithSymbolBuffers has the blocks' symbol readers borrow the scratch of
// their partition loads from b, one set shared by every block. Without it
// each load allocates its own.
func WithSymbolBuffers(b *symdb.Buffers) SyncerOption {
	return func(s *Syncer) { s.symbolBuffers = b }
}

// WithSymbolReadsUncached keeps the ranged reads of symbol files (see
// symdb.IsSymbolFile) out of the byte cache. Use it when the byte cache lives in this process and a
// partition cache is set: a symbol partition is read once and kept decoded,
// so its raw bytes would be held twice, and for nothing while the partition
// stays cached. (A shared memcached is different: there the raw bytes spare
// other replicas and restarts a read from object storage.)
func WithSymbolReadsUncached() SyncerOption {
	return func(s *Syncer) { s.symbolsUncached = true }
}

// WithLocalFiles says that the bucket keeps its objects as files under
// dir, as the filesystem backend does (dir is its directory, joined with
// the prefix if any). Block files are then read with positioned reads from
// files opened once per block, where a ranged GET of the filesystem bucket
// opens, checks and closes the file for every read: ten system calls
// instead of one, and a first query reads a thousand ranges. These reads
// do not show in the bucket's operation metrics.
func WithLocalFiles(dir string) SyncerOption {
	return func(s *Syncer) { s.localDir = dir }
}

// ServingOptions returns the options that a querier serving storage syncs
// with, so that the server and its benchmarks read blocks alike:
//   - a filesystem bucket's block files are read in place (the operating
//     system caches them), with a profiles read-ahead of
//     FilesystemReadAhead set in sync unless it sets one; another
//     backend's reads go through byteCache;
//   - decoded partitions are kept in partitions unless it is nil, and
//     then their raw bytes stay out of byteCache when it is held in this
//     process's memory too (byteCacheInProcess);
//   - the symbol scratch of partition loads is shared and bounded by
//     bytes: a query loads partitions on up to GOMAXPROCS goroutines,
//     each holding one buffer at a time.
func ServingOptions(storage Config, sync *SyncConfig, byteCache cache.Cache, partitions PartitionCache, byteCacheInProcess bool) []SyncerOption {
	var opts []SyncerOption
	if storage.Backend == BackendFilesystem {
		if sync.ProfilesReadAhead == 0 {
			sync.ProfilesReadAhead = FilesystemReadAhead
		}
		opts = append(opts, WithLocalFiles(storage.LocalDirectory()))
	} else {
		opts = append(opts, WithByteCache(byteCache))
	}
	if partitions != nil {
		opts = append(opts, WithPartitionCache(partitions))
		if byteCacheInProcess {
			opts = append(opts, WithSymbolReadsUncached())
		}
	}
	return append(opts, WithSymbolBuffers(&symdb.Buffers{Max: 2 * runtime.GOMAXPROCS(0), MaxBytes: symdb.DefaultBufferBytes}))
}

// profilesFilename is the full-resolution profiles table of a block.
const profilesFilename = "profiles.parquet"

// blockReaders opens a block's profiles table and symbols on first use and
// keeps them for the block's lifetime. A failed open is not remembered, so
// a transient bucket error is retried by the next query.
type blockReaders struct {
	profilesMu sync.Mutex
	profiles   *blockreader.ProfilesReader
	symbolsMu  sync.Mutex
	symbols    *symdb.Reader
}

// Profiles returns the reader of the block's profiles.parquet.
func (b *Block) Profiles(ctx context.Context) (*blockreader.ProfilesReader, error) {
	b.readers.profilesMu.Lock()
	defer b.readers.profilesMu.Unlock()
	if b.readers.profiles != nil {
		return b.readers.profiles, nil
	}
	ra, size, err := b.Files.ReaderAt(ctx, profilesFilename)
	if err != nil {
		return nil, fmt.Errorf("block %s: %w", b.Meta.ULID, err)
	}
	p, err := blockreader.OpenProfiles(ra, size, blockreader.WithReadAhead(b.readAhead))
	if err != nil {
		return nil, fmt.Errorf("block %s: %w", b.Meta.ULID, err)
	}
	b.readers.profiles = p
	return p, nil
}

// Symbols returns the reader of the block's stack traces and symbols.
func (b *Block) Symbols(ctx context.Context) (*symdb.Reader, error) {
	b.readers.symbolsMu.Lock()
	defer b.readers.symbolsMu.Unlock()
	if b.readers.symbols != nil {
		return b.readers.symbols, nil
	}
	var opts []symdb.Option
	if b.partitions != nil {
		opts = append(opts, symdb.WithPartitionCache(cache.Scope(b.partitions, b.Meta.ULID)))
	}
	if b.symbolBuffers != nil {
		opts = append(opts, symdb.WithBuffers(b.symbolBuffers))
	}
	r, err := symdb.Open(ctx, b.Meta, b.Files, opts...)
	if err != nil {
		return nil, fmt.Errorf("block %s: %w", b.Meta.ULID, err)
	}
	b.readers.symbols = r
	return r, nil
}
