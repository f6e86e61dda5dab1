package bucket

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
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

	// localDir, when set, is the directory the bucket keeps its objects
	// in as files (see WithLocalFiles): ranged reads go to the block's
	// files, each opened once, not through the bucket.
	localDir string

	mu    sync.Mutex
	sizes map[string]int64 // stat results for files listed without sizeBytes
	// opened are the block's files opened for reading under localDir, by
	// object name. They stay open while the block does, and close when
	// it is garbage (an os.File closes itself then).
	opened map[string]*os.File
}

var _ blockreader.BlockFiles = (*blockFiles)(nil)

func newBlockFiles(bkt objstore.BucketReader, dir string, meta *blockreader.Meta, c cache.Cache, symbolsUncached bool) *blockFiles {
	return &blockFiles{bkt: bkt, dir: dir, meta: meta, cache: c, symbolsUncached: symbolsUncached, sizes: map[string]int64{}}
}

// blockFiles returns the files of the block in directory dir of the
// bucket, read as the syncer's options say.
func (s *Syncer) blockFiles(dir string, meta *blockreader.Meta) *blockFiles {
	f := newBlockFiles(s.bkt, dir, meta, s.byteCache, s.symbolsUncached)
	f.localDir = s.localDir
	return f
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
	r := &objectReaderAt{bkt: f.bkt, name: name, size: size, cache: c}
	if f.localDir != "" {
		r.local = f
	}
	return r, size, nil
}

// readLocal reads p from object name's file at off.
func (f *blockFiles) readLocal(name string, p []byte, off int64) (int, error) {
	file, err := f.localFile(name)
	if err != nil {
		return 0, fmt.Errorf("read %s [%d, %d): %w", name, off, off+int64(len(p)), err)
	}
	n, err := file.ReadAt(p, off)
	if n == len(p) {
		return n, nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF // the file is shorter than meta.json says
	}
	return n, fmt.Errorf("read %s [%d, %d): %w", name, off, off+int64(len(p)), err)
}

// localFile returns object name's file, opened on first use. A failed
// open is not remembered: the next read tries again.
func (f *blockFiles) localFile(name string) (*os.File, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if file := f.opened[name]; file != nil {
		return file, nil
	}
	file, err := os.Open(filepath.Join(f.localDir, filepath.FromSlash(name)))
	if err != nil {
		return nil, err
	}
	if f.opened == nil {
		f.opened = map[string]*os.File{}
	}
	f.opened[name] = file
	return file, nil
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
	// local, when set, reads the object from its file instead of the
	// bucket (see blockFiles.localDir).
	local *blockFiles
}

func (r *objectReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("%s: negative offset %d", r.name, off)
	}
	if off >= r.size {
		return 0, io.EOF
	}
	want := min(int64(len(p)), r.size-off)
	if r.local != nil && r.cache == nil {
		n, err := r.local.readLocal(r.name, p[:want], off)
		if err == nil && want < int64(len(p)) {
			return n, io.EOF
		}
		return n, err
	}
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
	if r.local != nil {
		return r.local.readLocal(r.name, p, off)
	}
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
