package bucket

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/thanos-io/objstore"

	"github.com/cinder-profiling/cinder/pkg/blockreader"
	"github.com/cinder-profiling/cinder/pkg/cache"
	"github.com/cinder-profiling/cinder/pkg/symdb"
)

// objectReadTimeout bounds one ranged read made through a long-lived
// io.ReaderAt, which has no context of its own.
const objectReadTimeout = 2 * time.Minute

// blockFiles reads the files of one block from the bucket. Only files that
// meta.json lists can be read, so a query can never reach outside its block.
type blockFiles struct {
	bkt   objstore.BucketReader
	dir   string
	meta  *blockreader.Meta
	cache cache.Cache // of ranged reads; nil for none
	// symbolsUncached keeps reads of symbol files out of cache.
	symbolsUncached bool

	mu    sync.Mutex
	sizes map[string]int64 // stat results for files listed without sizeBytes
}

var _ blockreader.BlockFiles = (*blockFiles)(nil)

func newBlockFiles(bkt objstore.BucketReader, dir string, meta *blockreader.Meta, c cache.Cache, symbolsUncached bool) *blockFiles {
	return &blockFiles{bkt: bkt, dir: dir, meta: meta, cache: c, symbolsUncached: symbolsUncached, sizes: map[string]int64{}}
}

func (f *blockFiles) objectName(relPath string) (string, blockreader.File, error) {
	file, ok := f.meta.File(relPath)
	if !ok {
		return "", file, fmt.Errorf("%s is not listed in meta.json", relPath)
	}
	return f.dir + "/" + relPath, file, nil
}

// ReadFile implements blockreader.BlockFiles.
func (f *blockFiles) ReadFile(ctx context.Context, relPath string) ([]byte, error) {
	name, file, err := f.objectName(relPath)
	if err != nil {
		return nil, err
	}
	return readObject(ctx, f.bkt, name, file.SizeBytes)
}

// ReaderAt implements blockreader.BlockFiles.
func (f *blockFiles) ReaderAt(ctx context.Context, relPath string) (io.ReaderAt, int64, error) {
	name, file, err := f.objectName(relPath)
	if err != nil {
		return nil, 0, err
	}
	size := int64(file.SizeBytes)
	if size == 0 {
		if size, err = f.stat(ctx, name); err != nil {
			return nil, 0, err
		}
	}
	c := f.cache
	if f.symbolsUncached && symdb.IsSymbolFile(relPath) {
		c = nil
	}
	return &objectReaderAt{bkt: f.bkt, name: name, size: size, cache: c}, size, nil
}

func (f *blockFiles) stat(ctx context.Context, name string) (int64, error) {
	f.mu.Lock()
	size, ok := f.sizes[name]
	f.mu.Unlock()
	if ok {
		return size, nil
	}
	attrs, err := f.bkt.Attributes(ctx, name)
	if err != nil {
		return 0, fmt.Errorf("stat %s: %w", name, err)
	}
	f.mu.Lock()
	f.sizes[name] = attrs.Size
	f.mu.Unlock()
	return attrs.Size, nil
}

// maxCachedRead is the largest ranged read kept in the byte cache: footers,
// page indexes and symbol data, not whole column chunks.
const maxCachedRead = 1 << 20

// objectReaderAt turns ranged GETs into an io.ReaderAt. Block files are
// immutable, so a range read once can be served from the cache forever.
type objectReaderAt struct {
	bkt   objstore.BucketReader
	name  string
	size  int64
	cache cache.Cache
}

func (r *objectReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("%s: negative offset %d", r.name, off)
	}
	if off >= r.size {
		return 0, io.EOF
	}
	want := min(int64(len(p)), r.size-off)
	ctx, cancel := context.WithTimeout(context.Background(), objectReadTimeout)
	defer cancel()
	var key string
	if r.cache != nil && want <= maxCachedRead {
		key = fmt.Sprintf("cinder:range:%s:%d:%d", r.name, off, want)
		if v, ok := r.cache.Get(ctx, []string{key})[key]; ok && int64(len(v)) == want {
			n := copy(p, v)
			if want < int64(len(p)) {
				return n, io.EOF
			}
			return n, nil
		}
	}
	n, err := r.get(ctx, p[:want], off)
	if err == nil && key != "" {
		r.cache.Set(ctx, map[string][]byte{key: p[:want]}, 0)
	}
	if err == nil && want < int64(len(p)) {
		return n, io.EOF
	}
	return n, err
}

func (r *objectReaderAt) get(ctx context.Context, p []byte, off int64) (int, error) {
	want := int64(len(p))
	rc, err := r.bkt.GetRange(ctx, r.name, off, want)
	if err != nil {
		return 0, fmt.Errorf("read %s [%d, %d): %w", r.name, off, off+want, err)
	}
	defer rc.Close()
	n, err := io.ReadFull(rc, p)
	if err != nil {
		return n, fmt.Errorf("read %s [%d, %d): %w", r.name, off, off+want, err)
	}
	return n, nil
}
