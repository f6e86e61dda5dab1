package blockreader

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// BlockFiles reads the files of one block by their relPath in meta.json.
// Implementations must be safe for concurrent use.
type BlockFiles interface {
	// ReadFile returns a whole file.
	ReadFile(ctx context.Context, relPath string) ([]byte, error)
	// ReaderAt returns a reader for ranged reads of a file and its size.
	// Reads through it after ctx is done may fail.
	ReaderAt(ctx context.Context, relPath string) (io.ReaderAt, int64, error)
}

// DirFiles reads a block from a local directory, as laid out in a bucket.
type DirFiles string

// ReadFile implements BlockFiles.
func (d DirFiles) ReadFile(_ context.Context, relPath string) ([]byte, error) {
	if !ValidRelPath(relPath) {
		return nil, fmt.Errorf("invalid block file path %q", relPath)
	}
	return os.ReadFile(filepath.Join(string(d), filepath.FromSlash(relPath)))
}

// ReaderAt implements BlockFiles. The file stays open until the process
// ends or the reader is garbage: DirFiles is meant for tests and tools.
func (d DirFiles) ReaderAt(_ context.Context, relPath string) (io.ReaderAt, int64, error) {
	if !ValidRelPath(relPath) {
		return nil, 0, fmt.Errorf("invalid block file path %q", relPath)
	}
	f, err := os.Open(filepath.Join(string(d), filepath.FromSlash(relPath)))
	if err != nil {
		return nil, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, st.Size(), nil
}
