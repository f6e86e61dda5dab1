package bucket

import (
	"context"
	"fmt"
	"sync"

	"github.com/cinder-profiling/cinder/pkg/blockreader"
	"github.com/cinder-profiling/cinder/pkg/symdb"
)

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
	p, err := blockreader.OpenProfiles(ra, size)
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
	r, err := symdb.Open(ctx, b.Meta, b.Files)
	if err != nil {
		return nil, fmt.Errorf("block %s: %w", b.Meta.ULID, err)
	}
	b.readers.symbols = r
	return r, nil
}
