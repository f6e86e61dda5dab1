package bucket

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/thanos-io/objstore"

	"github.com/cinder-profiling/cinder/pkg/blockreader"
)

// objectReadTimeout bounds one ranged read made through a long-lived
// io.ReaderAt, which has no context of its own.
const objectReadTimeout = 2 * time.Minute

// blockFiles reads the files of one block from the bucket. Only files that
// meta.json lists can be read, so a query can never reach outside its block.
type blockFiles struct {
	bkt  objstore.BucketReader
	dir  string
	meta *blockreader.Meta

	mu    sync.Mutex
	sizes map[string]int64 // stat results for files listed without sizeBytes
}

var _ blockreader.BlockFiles = (*blockFiles)(nil)

func newBlockFiles(bkt objstore.BucketReader, dir string, meta *blockreader.Meta) *blockFiles {
	return &blockFiles{bkt: bkt, dir: dir, meta: meta, sizes: map[string]int64{}}
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
	return &objectReaderAt{bkt: f.bkt, name: name, size: size}, size, nil
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

// objectReaderAt turns ranged GETs into an io.ReaderAt.
type objectReaderAt struct {
	bkt  objstore.BucketReader
	name string
	size int64
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
	rc, err := r.bkt.GetRange(ctx, r.name, off, want)
	if err != nil {
		return 0, fmt.Errorf("read %s [%d, %d): %w", r.name, off, off+want, err)
	}
	defer rc.Close()
	n, err := io.ReadFull(rc, p[:want])
	if err != nil {
		return n, fmt.Errorf("read %s [%d, %d): %w", r.name, off, off+want, err)
	}
	if want < int64(len(p)) {
		return n, io.EOF
	}
	return n, nil
}
